// `json IMAGE`: the full decode as JSON: the summary and the record tree with every field.
// 64-bit values are strings (hex for addresses and registers), so no JSON reader rounds them.
// Page bytes are not included; `pages` dumps them.

import { CheckpointImage, FieldNode, JsonValue, payloadTypeName, RecordEntry, recordTypeName, renderFields, summarizeImage } from '../../image';
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
      const summary = await summarizeImage(img);
      const doc = { summary: { ...summary, problems: summary.problems.map((p) => ({ ...p })) }, records: await recordsJson(img, img.children()) };
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

function fieldsJson(fields: FieldNode[]): { [k: string]: JsonValue } {
  return Object.fromEntries(fields.map((f) => [f.name, f.json]));
}
