// Process attributes, checkpointed with --kill (with its child, --tree) and restored, checked by
// the process itself (targets/attrs.c): oom_score_adj, prctl state, the names of its threads,
// personality, the flags of memory areas; as root also groups, capabilities and not being
// dumpable, a seccomp filter. An image with a lower oom_score_adj than the user may set comes back with a warning.

import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { RecordType } from '../../src/image';
import { recordOffsets, resealBytes } from '../support/resealBytes';
import { buildTargets, EXIT, identities, Identity, Lab, lines, procStatus, ROOT, selfCheck, target, waitFor } from './helpers';

const COMMON = [
  'pdeathsig',
  'oom_score_adj',
  'no_new_privs',
  'child_subreaper',
  'thp_disable',
  'mce_kill',
  'keep_caps',
  'tsc',
  'personality',
  'thread names',
  'vma mlock',
  'vma MAP_LOCKED',
  'vma MADV_DONTFORK',
  'vma MADV_WIPEONFORK',
  'vma MADV_HUGEPAGE',
  'vma MADV_NOHUGEPAGE',
];

function itemsFor(id: Identity): string[] {
  const items = [...COMMON];
  items.splice(items.indexOf('personality'), 0, id.uid === 0 ? 'dumpable 0' : 'dumpable 1');
  return id.uid === 0 ? [...items, 'groups', 'capabilities', 'seccomp'] : items;
}

describe('process attributes', function () {
  this.timeout(120000);
  const lab = new Lab();
  before(() => buildTargets());
  afterEach(() => lab.cleanup());

  for (const id of identities()) {
    describe(`as ${id.name}`, () => {
      it(`prctl state, oom_score_adj, thread names, personality and area flags${id.uid === 0 ? ', groups, capabilities, a seccomp filter and dumpable 0' : ''} come back`, async () => {
        const dir = lab.dir(id);
        const out = path.join(dir, 'attrs.txt');
        lab.startTarget(id, [target('attrs'), out]);
        const ready = await waitFor('the attrs target to be ready', () => lines(out).find((l) => l.startsWith('ready ')));
        assert.deepStrictEqual(
          lines(out).filter((l) => l.startsWith('error')),
          [],
        );
        const [pid, child] = ready.split(' ').slice(1).map(Number);
        const image = path.join(dir, 'attrs.ckpt');
        const d = await lab.dump(id, pid, image, ['--kill', '--tree']);
        assert.strictEqual(d.code, EXIT.ok, d.stderr);
        await waitFor('the target to be gone', () => [pid, child].every((p) => !procStatus(p) || /^[ZX]/.test(procStatus(p)!.get('State')!)));
        const r = await lab.restore(id, image);
        assert.strictEqual(r.code, EXIT.ok, r.stderr);
        const items = itemsFor(id);
        const c = await selfCheck(out, items, `${id.name}: restored`);
        assert.deepStrictEqual(c.passed, items, c.lines.join('\n'));

        const s = spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, 'src/cli/ckptInspect.ts'), 'show', '-v', image], { encoding: 'utf8', timeout: 60000 });
        assert.match(s.stdout, /PROCESS_ATTRS tag \d+: oom_score_adj 500, child subreaper, THP disabled|PROCESS_ATTRS tag \d+: oom_score_adj 500, THP disabled, child subreaper/);
        for (const f of ['oom_score_adj: 500', 'thp_disable: 1', 'child_subreaper: 1', 'mce_kill: 1', 'keep_caps: 1', 'cap_bounding: 0x', 'pdeathsig: sigusr1 \\(10\\)'])
          assert.match(s.stdout, new RegExp(f), f);
        assert.match(s.stdout, /flags: .*huge_page/);
      });
    });
  }

  it("an image whose oom_score_adj is lower than the user may set is restored with the user's, and a warning that says so", async () => {
    const user = identities()[identities().length - 1];
    const dir = lab.dir(user);
    const out = path.join(dir, 'attrs.txt');
    lab.startTarget(user, [target('attrs'), out]);
    const ready = await waitFor('the attrs target to be ready', () => lines(out).find((l) => l.startsWith('ready ')));
    const [pid, child] = ready.split(' ').slice(1).map(Number);
    const image = path.join(dir, 'attrs.ckpt');
    assert.strictEqual((await lab.dump(user, pid, image, ['--kill', '--tree'])).code, EXIT.ok);
    await waitFor('the target to be gone', () => [pid, child].every((p) => !procStatus(p) || /^[ZX]/.test(procStatus(p)!.get('State')!)));
    // the image says -300, which only CAP_SYS_RESOURCE could set (not even root here has it)
    const bytes = new Uint8Array(fs.readFileSync(image));
    const dv = new DataView(bytes.buffer);
    let changed = 0;
    for (const off of recordOffsets(bytes))
      if (dv.getUint32(off, true) === RecordType.PROCESS_ATTRS && dv.getInt32(off + 32, true) === 500) {
        dv.setInt32(off + 32, -300, true);
        changed++;
      }
    assert.strictEqual(changed, 1, 'the root process has one process_attrs record with oom_score_adj 500');
    fs.writeFileSync(image, resealBytes(bytes));
    fs.chownSync(image, user.uid, user.gid);
    const r = await lab.restore(user, image);
    assert.strictEqual(r.code, EXIT.ok, r.stderr);
    const kept = fs.readFileSync(`/proc/${r.pid}/oom_score_adj`, 'utf8').trim();
    assert.match(r.stderr, new RegExp(`ckpt: warning: oom_score_adj -300 is kept at ${kept}: lowering it needs CAP_SYS_RESOURCE`));
    assert.notStrictEqual(kept, '-300');
  });
});
