// The exit codes of `ckpt` are declared once, in formats/ckpt.ksy (enum exit_code): C's EXIT_* and
// TypeScript's ExitCode are generated from it, and the README's table must say the same.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ExitCode, schema } from '../../src/image/format';

const root = path.resolve(__dirname, '..', '..');

describe('exit codes', () => {
  const docs = (schema.enumDocs as Record<string, Record<string, string>>).exit_code;

  it('are documented in the .ksy, one doc per code, and are ExitCode in TypeScript', () => {
    const labels = schema.enums.exit_code;
    assert.deepStrictEqual(Object.keys(docs), Object.keys(labels));
    for (const [code, label] of Object.entries(labels)) assert.strictEqual(ExitCode[label.toUpperCase() as keyof typeof ExitCode], Number(code));
  });

  it('are listed in the README exactly as the .ksy declares them', () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const at = readme.indexOf('enum `exit_code`');
    assert.ok(at >= 0, 'the README names the enum its table comes from');
    const table = readme.slice(at).split('\n| code | meaning |\n|---|---|\n')[1];
    assert.ok(table, 'the README has the table after naming the enum');
    const rows = table.split('\n').filter((l, i, all) => l.startsWith('|') && all.slice(0, i).every((p) => p.startsWith('|')));
    const listed = Object.fromEntries(
      rows.map((r) =>
        r
          .split('|')
          .slice(1, -1)
          .map((c) => c.trim()),
      ),
    );
    assert.deepStrictEqual(listed, docs);
  });

  it("are the C header's EXIT_* names, as generated", () => {
    const header = fs.readFileSync(path.join(root, 'build', 'native', 'ckpt_format.h'), 'utf8');
    for (const [code, label] of Object.entries(schema.enums.exit_code)) assert.match(header, new RegExp(`\\tEXIT_${label.toUpperCase()} = ${code},\\n`));
  });
});
