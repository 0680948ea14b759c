// `json IMAGE`: the full decode as JSON: the summary and the record tree with every field.
// 64-bit values are strings (hex for addresses and registers), so no JSON reader rounds them.
// Page bytes are not included; `pages` dumps them. The document is written as it is made
// (jsonWriter.ts), record by record, so that its size is bounded by the image's, not by memory.

import { CheckpointImage, FieldNode, ImageError, JsonValue, payloadTypeName, RecordEntry, recordTypeName, renderFields, summarizeImage } from '../../image';
import type { Command } from '../ckptInspect';
import { JsonWriter } from '../jsonWriter';
import { EXIT_OK } from '../output';
import { withImage } from './open';

export const jsonCommand: Command = {
  usage: 'json IMAGE',
  summary: 'print the whole decoded image as JSON (64-bit values as strings)',
  options: {},
  run({ positionals }, out) {
    return withImage(positionals, this.usage, async (img) => {
      const summary = await summarizeImage(img);
      const json = new JsonWriter(out);
      json.begin(false);
      await json.member('summary', { ...summary, problems: summary.problems.map((p) => ({ ...p })) });
      json.key('records');
      await writeRecords(img, json);
      json.end();
      out.text('\n');
      return EXIT_OK;
    });
  },
};

/**
 * The record tree as an array of records, each with its payload and its children, depth first
 * with an explicit stack (a hostile tree is as deep as it is long).
 */
async function writeRecords(img: CheckpointImage, json: JsonWriter): Promise<void> {
  const stack: { list: RecordEntry[]; next: number }[] = [{ list: img.children(), next: 0 }];
  json.begin(true);
  while (stack.length) {
    const level = stack[stack.length - 1];
    if (level.next === level.list.length) {
      stack.pop();
      json.end(); // the children array (or the top-level one)
      if (stack.length) json.end(); // the record that holds it
      continue;
    }
    const r = level.list[level.next++];
    json.begin(false);
    for (const [k, v] of Object.entries({ index: r.index, type: recordTypeName(r.type), tag: r.tag, ptag: r.ptag, offset: r.offset, len: r.len, flags: r.flags })) await json.member(k, v);
    const typeName = payloadTypeName(r.type);
    try {
      const decoded = typeName ? await img.decode(r) : undefined;
      if (decoded && typeName) await json.member('payload', fieldsJson(renderFields(typeName, decoded as never)));
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
      await json.member('error', e.message);
    }
    json.key('children');
    json.begin(true);
    stack.push({ list: img.children(r), next: 0 });
  }
}

/** Fields by name; a long list (NUL-separated strings, page hashes) as its items, for streaming. */
function fieldsJson(fields: FieldNode[]): Record<string, JsonValue | Iterable<JsonValue>> {
  return Object.fromEntries(fields.map((f) => [f.name, f.jsonItems ? f.jsonItems() : f.json]));
}
