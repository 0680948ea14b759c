// Terminal escape sequences in image strings never reach the terminal from ckpt-inspect: not in
// the process's comm, a VMA's path, the environment, a thread's name, an fd's path or what
// an unsupported record says, in any command's text; JSON keeps every string exact. The same
// holds for the strings of a CRIU checkpoint (a comm, a file's path).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ckpt } from '../../src/image';
import { copyFixture, decode, encode, readImage, writeImage } from '../support/criuFixtures';
import { ImageWriter } from '../../src/image/write/imageWriter';
import { runInspect } from '../support/inspect';
import { resealBytes } from '../support/resealBytes';

const TITLE = '\x1b]0;pwned\x07';
const CLEAR = '\x1b[2J';
/** A C1 control (CSI as one character); and a byte that is no UTF-8 at all goes where PLACE is. */
const CSI = '\u009b31m';
const PLACE = 'A@@@B';
const BASE = 0x7e0000000000n;

function hostileImage(): Uint8Array {
  const w = ImageWriter.inMemory();
  w.head({ nodename: `host${TITLE}` });
  const proc = w.record('process', {
    pid: 77,
    comm: `evil${TITLE}`,
    exe: `/bin/${CLEAR}x`,
    cwd: `/tmp/${CSI}`,
    nthreads: 1,
    cmdline: [`prog${CLEAR}`, `arg${TITLE}`],
    environ: [`TERM=${TITLE}`, `X=${CSI}`],
  });
  w.mainThread(proc, 77, { comm: `thr${CLEAR}` });
  const mm = w.record('mm', { nvmas: 1 }, { ptag: proc });
  w.record('vma', { start: BASE, end: BASE + 0x2000n, prot: 3, kind: Ckpt.VmaKind.FILE_PRIVATE, path: `/lib/${TITLE}.so` }, { ptag: mm });
  const page = new Uint8Array(8192);
  page.set(Buffer.from(`marker${TITLE}${CLEAR}end`), 100);
  w.pages(mm, [{ vaddr: BASE, data: page }]);
  const files = w.record('files', { nfds: 1, maxFds: 64 }, { ptag: proc });
  w.fd(files, { fd: 3 }, { kind: Ckpt.FdKind.REGULAR, path: `/tmp/${CLEAR}${PLACE}` });
  w.record('unsupported', { what: 1, fd: 3, reason: `because${TITLE}`, detail: `detail${CLEAR}` }, { ptag: proc });
  w.tail();
  // The writer encodes strings as UTF-8; the lone byte 0x9b goes in by hand, and the sums after.
  const bytes = Buffer.from(w.bytes());
  bytes.set([0x9b], bytes.indexOf(PLACE) + 2);
  return resealBytes(new Uint8Array(bytes));
}

/** Control characters a terminal acts on: C0 but newline, DEL, and C1 (U+0080..U+009F). */
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f\u0080-\u009f]/;

describe('terminal escapes in image strings', () => {
  let dir: string;
  let image: string;
  let other: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-escapes-'));
    image = path.join(dir, 'hostile.ckpt');
    other = path.join(dir, 'other.ckpt');
    fs.writeFileSync(image, hostileImage());
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reach no command text raw, and show escaped', async function () {
    this.timeout(30000);
    const runs = [
      ['show', image],
      ['show', '-v', image],
      ['verify', image],
      ['pages', image, '--addr', `0x${BASE.toString(16)}`, '--len', '256'],
      ['search', image, 'marker', '--context', '32'],
      ['search', image, '--regex', 'marker.{0,20}end'],
      ['diff', image, path.join(__dirname, '..', 'fuzz', 'ts-corpus', 'does-not-exist.ckpt')],
    ];
    for (const args of runs) {
      const r = await runInspect(...args);
      assert.doesNotMatch(r.out, RAW_CONTROL, `ckpt-inspect ${args.join(' ')} wrote a control character: ${JSON.stringify(r.out.match(RAW_CONTROL))}`);
      assert.doesNotMatch(r.err, RAW_CONTROL, `ckpt-inspect ${args.join(' ')} wrote a control character on stderr`);
    }
    const show = (await runInspect('show', '-v', image)).out;
    for (const shown of [
      'evil\\x1b]0;pwned\\x07',
      '/bin/\\x1b[2Jx',
      '/lib/\\x1b]0;pwned\\x07.so',
      'thr\\x1b[2J',
      'TERM=\\x1b]0;pwned\\x07',
      '/tmp/\\u009b31m',
      '/tmp/\\x1b[2JA@\\x9b@B',
      'detail\\x1b[2J',
      'host\\x1b]0;pwned\\x07',
    ]) {
      assert.ok(show.includes(shown), `show -v shows ${shown}`);
    }
  });

  it('keep the strings exact in JSON', async () => {
    const r = await runInspect('json', image);
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.out, /\x1b|\x07/, 'JSON escapes control characters itself');
    const doc = JSON.parse(r.out);
    const proc = doc.records.find((x: { type: string }) => x.type === 'PROCESS');
    assert.equal(proc.payload.comm, `evil${TITLE}`);
    assert.deepEqual(proc.payload.environ, [`TERM=${TITLE}`, `X=${CSI}`]);
    const file = doc.records.find((x: { type: string }) => x.type === 'FILE');
    // The byte 0x9b is no UTF-8: it comes out as U+DC9B, which a reader can turn back into the byte.
    assert.equal(file.payload.path, `/tmp/${CLEAR}A@\udc9b@B`);
    assert.equal(doc.summary.processes[0].comm, `evil${TITLE}`);
  });

  it('reach no diff text raw', async () => {
    const w = ImageWriter.inMemory();
    w.head();
    const proc = w.record('process', { pid: 77, comm: `other${CLEAR}`, nthreads: 1, environ: [`TERM=${CLEAR}`] });
    w.mainThread(proc, 77, { comm: 'thr' });
    w.record('mm', { nvmas: 0 }, { ptag: proc });
    w.tail();
    fs.writeFileSync(other, w.bytes());
    const r = await runInspect('diff', image, other);
    assert.equal(r.code, 1, r.err);
    assert.doesNotMatch(r.out, RAW_CONTROL);
    assert.match(r.out, /environ\.TERM: "\\x1b\]0;pwned\\x07" -> "\\x1b\[2J"/);
    const json = JSON.parse((await runInspect('diff', image, other, '--format=json')).out);
    const term = json.nodes.find((n: { kind: string }) => n.kind === 'process').fields.find((f: { path: string }) => f.path === 'environ.TERM');
    assert.deepEqual([term.a, term.b], [TITLE, CLEAR]);
  });

  it('reach no command text raw from a CRIU checkpoint either', async function () {
    this.timeout(60000);
    const copy = copyFixture('single');
    try {
      // The process's comm (in its core image) and the path of its first file (in files.img).
      const rewrite = <T>(file: string, type: string, change: (v: T) => void) => {
        const img = readImage(path.join(copy.dir, file));
        const v = decode<T>(type, img.entries[0].message);
        change(v);
        img.entries[0].message = encode(type, v as object);
        writeImage(path.join(copy.dir, file), img);
      };
      rewrite<{ tc: { comm: string }; thread_core: { comm: string } }>('core-28660.img', 'core_entry', (v) => {
        v.tc.comm = `evil${TITLE}`;
        v.thread_core.comm = `thr${CLEAR}`;
      });
      rewrite<{ reg: { name: string } }>('files.img', 'file_entry', (v) => (v.reg.name = `/tmp/${CSI}${TITLE}bin`));
      const runs = [
        ['show', copy.dir],
        ['show', '-v', copy.dir],
        ['verify', copy.dir],
        ['search', copy.dir, 'criu-fixture-marker', '--context', '32'],
        ['diff', copy.dir, image],
        ['diff', image, copy.dir],
      ];
      for (const args of runs) {
        const r = await runInspect(...args);
        assert.ok([0, 1].includes(r.code), `ckpt-inspect ${args.join(' ')} -> ${r.code}: ${r.err}`);
        assert.doesNotMatch(r.out, RAW_CONTROL, `ckpt-inspect ${args.join(' ')} wrote a control character: ${JSON.stringify(r.out.match(RAW_CONTROL))}`);
        assert.doesNotMatch(r.err, RAW_CONTROL, `ckpt-inspect ${args.join(' ')} wrote a control character on stderr`);
      }
      const show = (await runInspect('show', '-v', copy.dir)).out;
      for (const shown of ['process 28660 "evil\\x1b]0;pwned\\x07"', '/tmp/\\u009b31m\\x1b]0;pwned\\x07bin']) assert.ok(show.includes(shown), `show -v shows ${shown}`);
      assert.match((await runInspect('diff', image, copy.dir)).out, /process 77 -> 28660 "evil\\x1b\]0;pwned\\x07"/);
      // JSON keeps them exact.
      const doc = JSON.parse((await runInspect('json', copy.dir)).out);
      assert.equal(doc.summary.processes[0].comm, `evil${TITLE}`);
    } finally {
      copy.remove();
    }
  });
});
