// Issue 13, must-hold 6: both converters checked against each other on a running process. A
// counter (targets/counter.c: 8 MiB of known heap, every protection, shared memory, a signal
// handler, a file it appends to) is checkpointed with `ckpt dump --kill`, exported to CRIU's
// layout with `ckpt-inspect export-criu`, read back by the CRIU reader and compared with the
// original by meaning, converted back with `ckpt-inspect convert`, and restored with `ckpt
// restore`: it must count on from where it was and find its memory as it was.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { compareModels, openCheckpoint } from '../../src/checkpoint';
import type { DiffNode } from '../../src/image';
import { runInspect } from '../support/inspect';
import { alive, assertCounting, buildTargets, identities, lines, Lab, target, waitFor } from './helpers';

const values = (file: string, prefix: string) =>
  lines(file)
    .filter((l) => l.startsWith(prefix))
    .map((l) => l.slice(prefix.length));
const lastReport = (file: string) => {
  const r = values(file, 'r ');
  return r.length ? r[r.length - 1].split(' ') : undefined;
};

function flatten(nodes: DiffNode[]): DiffNode[] {
  return nodes.flatMap((n) => [n, ...flatten(n.children)]);
}

describe('native: ckpt dump -> export-criu -> convert -> ckpt restore (issue 13, must-hold 6)', function () {
  this.timeout(90000);
  before(buildTargets);

  for (const id of identities()) {
    describe(`as ${id.name}`, () => {
      const lab = new Lab();
      afterEach(() => lab.cleanup());

      it('a counter restored from its image converted to CRIU and back counts on with its memory intact', async () => {
        const dir = lab.dir(id);
        const out = path.join(dir, 'counter.txt');
        const image = path.join(dir, 'counter.ckpt');
        const criuDir = path.join(dir, 'criu');
        const back = path.join(dir, 'back.ckpt');
        const t = lab.startTarget(id, [target('counter'), out]);
        await waitFor('counting', () => values(out, 'c ').length >= 20);
        process.kill(t.pid, 'SIGUSR1');
        const before = await waitFor('a report', () => lastReport(out));
        const dump = await lab.dump(id, t.pid, image, ['--kill']);
        assert.strictEqual(dump.code, 0, `dump failed: ${dump.stderr}`);
        assert.ok(!alive(t.pid));
        const atDump = values(out, 'c ').length;

        // .ckpt -> CRIU: the CRIU reader finds the same process, by meaning.
        const ex = await runInspect('export-criu', image, '-o', criuDir);
        assert.strictEqual(ex.code, 0, ex.err);
        for (const f of [
          'inventory.img',
          'pstree.img',
          `core-${t.pid}.img`,
          `mm-${t.pid}.img`,
          `pagemap-${t.pid}.img`,
          'pages-1.img',
          'files.img',
          'fdinfo-1.img',
          `fs-${t.pid}.img`,
          `ids-${t.pid}.img`,
        ]) {
          assert.ok(fs.existsSync(path.join(criuDir, f)), `export-criu wrote ${f}`);
        }
        const ckpt = await openCheckpoint(image),
          criu = await openCheckpoint(criuDir);
        try {
          assert.strictEqual(criu.format, 'criu');
          assert.ok((await criu.verify()).ok, 'the exported folder reads as a sound CRIU checkpoint');
          const diff = await compareModels(ckpt, criu);
          const nodes = flatten(diff.nodes);
          // CRIU's pstree gives the root no parent (ppid 0): the one difference its model makes.
          assert.deepStrictEqual(
            nodes.map((n) => n.kind),
            ['process'],
            JSON.stringify(diff.nodes, (_, v) => (typeof v === 'bigint' ? v.toString() : v)),
          );
          assert.deepStrictEqual(
            nodes[0].fields.map((f) => f.path),
            ['ppid'],
          );
          assert.ok(diff.stats.pagesCompared >= 2048, `every page compared byte by byte (${diff.stats.pagesCompared})`);
          const [pa] = await ckpt.processes(),
            [pb] = await criu.processes();
          assert.deepStrictEqual(
            pb.threads.map((x) => x.regs),
            pa.threads.map((x) => x.regs),
            'every register',
          );
        } finally {
          await ckpt.close();
          await criu.close();
        }

        // CRIU -> .ckpt: a sound image, restored as the user the test runs the target as.
        const cv = await runInspect('convert', criuDir, '-o', back);
        assert.strictEqual(cv.code, 0, cv.err);
        assert.strictEqual(fs.statSync(back).mode & 0o777, 0o600, 'the converted image has mode 0600');
        assert.strictEqual((await runInspect('verify', back)).code, 0);
        fs.chownSync(back, id.uid, id.gid); // converted by the test (root): the image belongs to whom it restores as
        const r = await lab.restore(id, back);
        assert.strictEqual(r.code, 0, `restore of the converted image failed: ${r.stderr}`);
        await waitFor('counting on after restore', () => values(out, 'c ').length > atDump + 20);
        process.kill(r.pid!, 'SIGUSR1');
        const after = await waitFor('a report after restore', () => {
          const x = lastReport(out);
          return x && x[0] === '2' ? x : undefined;
        });
        assert.strictEqual(after[1], before[1], 'the 8 MiB heap checksum');
        assert.strictEqual(after[2], before[2], 'the checksum of the PROT_NONE, read-only, write-only and shared pages');
        assert.strictEqual(after[3], '42', 'code in an exec page still runs');
        assert.strictEqual(after[4], '1', 'vdso time still works');
        process.kill(r.pid!, 'SIGKILL');
        await waitFor('the restored process to end', () => !alive(r.pid!));
        assertCounting(values(out, 'c ').map(Number), 'counter');
      });
    });
  }
});
