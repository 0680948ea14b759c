// `json IMAGE`: the full decode as JSON: the summary and the record tree with every field.
// 64-bit values are strings (hex for addresses and registers), so no JSON reader rounds them.
// Page bytes are not included; `pages` dumps them. For a CRIU checkpoint the records are its
// files, each image's entries (`payload` holds the message's fields by their .proto names, as
// crit names them; unknown fields as "#N"), and the VMAs of its memory descriptors. The document
// is written as it is made (jsonWriter.ts), record by record, so that its size is bounded by the
// checkpoint's, not by memory.

import { Checkpoint, CkptCheckpoint, CriuAsCheckpoint } from '../../checkpoint';
import { FieldNode, ImageError, JsonValue, recordTypeName } from '../../image';
import type { Command } from './command';
import { JsonWriter } from '../jsonWriter';
import { EXIT_OK } from '../output';
import { withImage } from './open';

export const jsonCommand: Command = {
  usage: 'json IMAGE',
  summary: 'print the whole decoded image as JSON (64-bit values as strings)',
  options: {},
  run({ positionals }, out) {
    return withImage(positionals, this.usage, async (img) => {
      const summary = await img.summary();
      const json = new JsonWriter(out);
      json.begin(false);
      await json.member('summary', { ...summary, problems: summary.problems.map((p) => ({ ...p })) });
      json.key('records');
      await writeRecords(img, json, img instanceof CkptCheckpoint ? ckptRecord(img) : criuRecord(img as CriuAsCheckpoint));
      json.end();
      out.text('\n');
      return EXIT_OK;
    });
  },
};

/** The members of one record's object, before its children; undefined ones are left out. */
type RecordMembers = (index: number) => Promise<Record<string, unknown>>;

/**
 * The record tree as an array of records, each with its members and its children, depth first
 * with an explicit stack (a hostile tree is as deep as it is long).
 */
async function writeRecords(c: Checkpoint, json: JsonWriter, membersOf: RecordMembers): Promise<void> {
  const stack: { list: readonly number[]; next: number }[] = [{ list: c.children(), next: 0 }];
  json.begin(true);
  while (stack.length) {
    const level = stack[stack.length - 1];
    if (level.next === level.list.length) {
      stack.pop();
      json.end(); // the children array (or the top-level one)
      if (stack.length) json.end(); // the record that holds it
      continue;
    }
    const i = level.list[level.next++];
    json.begin(false);
    for (const [k, v] of Object.entries(await membersOf(i))) if (v !== undefined) await json.member(k, v);
    json.key('children');
    json.begin(true);
    stack.push({ list: c.children(i), next: 0 });
  }
}

/** A record's payload as its fields, or the error that kept it from being decoded. */
async function payloadOf(c: Checkpoint, index: number): Promise<{ payload?: Record<string, JsonValue | Iterable<JsonValue>>; error?: string }> {
  try {
    const fields = await c.fields(index);
    return fields ? { payload: fieldsJson(fields) } : {};
  } catch (e) {
    if (!(e instanceof ImageError)) throw e;
    return { error: e.message };
  }
}

/** A .ckpt record: its header, then its payload. */
function ckptRecord(c: CkptCheckpoint): RecordMembers {
  return async (index) => {
    const r = c.image.records[index];
    return { index: r.index, type: recordTypeName(r.type), tag: r.tag, ptag: r.ptag, offset: r.offset, len: r.len, flags: r.flags, ...(await payloadOf(c, index)) };
  };
}

/** A record of a CRIU checkpoint: what it is (a file, an entry of an image, a VMA), where, and its message. */
function criuRecord(c: CriuAsCheckpoint): RecordMembers {
  return async (index) => {
    const r = c.criu.records[index];
    const d = await c.describe(index);
    const { payload, error } = await payloadOf(c, index);
    const member = r.kind !== 'folder' && r.kind !== 'link' ? (r.image?.member ?? r.member) : undefined;
    return {
      index,
      type: d.title,
      kind: r.kind,
      path: r.path,
      ...(r.entry ? { entry: r.entry.number, ...(r.entry.message ? { message: r.entry.message } : {}) } : {}),
      vma: r.vma,
      fileOffset: member ? r.offset - member.offset : undefined,
      offset: r.offset,
      len: r.len,
      detail: d.detail,
      payload,
      error: d.error ?? error,
    };
  };
}

/** Fields by name; a long list (NUL-separated strings, page hashes) as its items, for streaming. */
function fieldsJson(fields: FieldNode[]): Record<string, JsonValue | Iterable<JsonValue>> {
  return Object.fromEntries(fields.map((f) => [f.name, f.jsonItems ? f.jsonItems() : f.json]));
}
