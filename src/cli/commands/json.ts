// `json IMAGE`: the full decode as JSON: the summary and the record tree with every field.
// 64-bit values are strings (hex for addresses and registers), so no JSON reader rounds them.
// Page bytes are not included; `pages` dumps them. For a CRIU checkpoint the records are its
// files, each image's entries (`payload` holds the message's fields by their .proto names, as
// crit names them; unknown fields as "#N"), and the VMAs of its memory descriptors.

import { Checkpoint, CkptCheckpoint, CriuAsCheckpoint } from '../../checkpoint';
import { CheckpointImage, FieldNode, ImageError, JsonValue, payloadTypeName, RecordEntry, recordTypeName, renderFields } from '../../image';
import type { Command } from '../ckptInspect';
import { EXIT_OK } from '../output';
import { openImage } from './open';

export const jsonCommand: Command = {
  usage: 'json IMAGE',
  summary: 'print the whole decoded image as JSON (64-bit values as strings)',
  options: {},
  async run({ positionals }, out) {
    const img = await openImage(positionals, this.usage);
    try {
      const summary = await img.summary();
      const records = img instanceof CkptCheckpoint ? await recordsJson(img.image, img.image.children()) : await checkpointRecordsJson(img, img.children());
      const doc = { summary: { ...summary, problems: summary.problems.map((p) => ({ ...p })) }, records };
      out.line(JSON.stringify(doc, null, 1));
      return EXIT_OK;
    } finally {
      await img.close();
    }
  },
};

export async function recordsJson(img: CheckpointImage, list: RecordEntry[]): Promise<JsonValue[]> {
  const result: JsonValue[] = [];
  for (const r of list) {
    const typeName = payloadTypeName(r.type);
    let payload: JsonValue = null;
    let error: string | undefined;
    try {
      const decoded = typeName ? await img.decode(r) : undefined;
      if (decoded && typeName) payload = fieldsJson(renderFields(typeName, decoded as never));
    } catch (e) {
      error = (e as Error).message;
    }
    result.push({
      index: r.index,
      type: recordTypeName(r.type),
      tag: r.tag,
      ptag: r.ptag,
      offset: r.offset,
      len: r.len,
      flags: r.flags,
      ...(payload !== null ? { payload } : {}),
      ...(error ? { error } : {}),
      children: await recordsJson(img, img.children(r)),
    });
  }
  return result;
}

/** The records of a checkpoint of another format, through the Checkpoint interface. */
async function checkpointRecordsJson(c: Checkpoint, list: readonly number[]): Promise<JsonValue[]> {
  const result: JsonValue[] = [];
  for (const i of list) {
    const d = await c.describe(i);
    let payload: JsonValue = null;
    let error = d.error;
    let layout: Awaited<ReturnType<Checkpoint['layout']>> | undefined;
    try {
      layout = await c.layout(i);
      if (layout.fields) payload = fieldsJson(layout.fields);
      error ??= layout.decodeError;
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
      error = e.message;
    }
    const r = c instanceof CriuAsCheckpoint ? c.criu.records[i] : undefined;
    result.push({
      index: i,
      type: d.title,
      ...(r ? { kind: r.kind, path: r.path } : {}),
      ...(r?.entry ? { entry: r.entry.number, ...(r.entry.message ? { message: r.entry.message } : {}) } : {}),
      ...(r?.vma !== undefined ? { vma: r.vma } : {}),
      ...(layout?.file ? { fileOffset: layout.offset - layout.file.base } : {}),
      offset: layout?.offset ?? 0,
      len: layout?.length ?? 0,
      detail: d.detail,
      ...(payload !== null ? { payload } : {}),
      ...(error ? { error } : {}),
      children: await checkpointRecordsJson(c, c.children(i)),
    });
  }
  return result;
}

function fieldsJson(fields: FieldNode[]): { [k: string]: JsonValue } {
  return Object.fromEntries(fields.map((f) => [f.name, f.json]));
}
