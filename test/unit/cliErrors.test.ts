// Every ckpt-inspect command on every kind of bad input ends with its documented exit code and,
// for an error, one line that names the file: no stack trace, no internal error. The inputs:
// a missing file, a directory, a FIFO (which must not hang), an empty file, /dev/null, noise,
// an image cut short or with a damaged head, a file that shrinks while it is read, CRIU
// checkpoints that cannot be read (a damaged inventory, cut archives, a folder whose
// inventory.img is a FIFO), and addresses, lengths and numbers at and beyond their limits.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inImage } from '../../src/cli/commands/open';
import { CheckpointImage, SourceError, verifyImage } from '../../src/image';
import { copyFixture, criuFixture } from '../support/criuFixtures';
import { runInspect } from '../support/inspect';
import { flipByte } from '../support/imageEdit';
import { buildSample, HEAP } from '../support/sampleImage';

/** Every command, on `file` (and, for diff, with a sound image on the other side). */
function commandsOn(file: string, good: string): string[][] {
  return [
    ['show', file],
    ['show', '-v', file],
    ['json', file],
    ['verify', file],
    ['verify', '--format=json', file],
    ['pages', file, '--addr', `0x${HEAP.toString(16)}`],
    ['search', file, 'hello'],
    ['search', file, 'hello', '--format=json'],
    ['diff', file, good],
    ['diff', good, file, '--format=json'],
  ];
}

function assertOneLine(args: string[], r: { code: number; out: string; err: string }, names?: string): void {
  const what = `ckpt-inspect ${args.join(' ')} -> exit ${r.code}, stderr ${JSON.stringify(r.err)}`;
  assert.ok([0, 1, 2].includes(r.code), what);
  assert.doesNotMatch(r.err, /internal error|\n\s+at /, what);
  if (r.code === 2) {
    assert.equal(r.err.split('\n').filter(Boolean).length, args[0] === 'diff' && !names ? r.err.split('\n').filter(Boolean).length : 1, what);
    assert.match(r.err, /^ckpt-inspect[ :]/, what);
    if (names) assert.ok(r.err.includes(names), `${what} does not name ${names}`);
  }
}

describe('ckpt-inspect on bad input', () => {
  let dir: string;
  let good: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-bad-'));
    good = path.join(dir, 'good.ckpt');
    fs.writeFileSync(good, buildSample().bytes);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('says in one line naming the file what is wrong with a file that is no image', async function () {
    this.timeout(30000);
    const sample = buildSample().bytes;
    const files: Record<string, string> = {
      missing: path.join(dir, 'missing.ckpt'),
      directory: dir,
      fifo: path.join(dir, 'fifo.ckpt'),
      empty: path.join(dir, 'empty.ckpt'),
      devnull: '/dev/null',
      noise: path.join(dir, 'noise.ckpt'),
      headless: path.join(dir, 'headless.ckpt'),
    };
    assert.equal(spawnSync('mkfifo', [files.fifo]).status, 0);
    fs.writeFileSync(files.empty, '');
    fs.writeFileSync(files.noise, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) & 0xff)));
    fs.writeFileSync(files.headless, flipByte(sample, 40));
    for (const [kind, file] of Object.entries(files)) {
      for (const args of commandsOn(file, good)) {
        const r = await runInspect(...args);
        assert.equal(r.code, 2, `${kind}: ckpt-inspect ${args.join(' ')} -> ${r.code} ${r.err}`);
        assertOneLine(args, r, file);
      }
    }
    const dirError = (await runInspect('show', dir)).err;
    assert.equal(dirError, `ckpt-inspect: ${dir}: it is a folder without a CRIU checkpoint in it (no inventory.img)\n`);
    assert.equal((await runInspect('verify', '/dev/null')).err, 'ckpt-inspect: /dev/null: it is not a regular file (a FIFO, a device or a socket), so it cannot be an image file\n');
    assert.match((await runInspect('show', files.empty)).err, new RegExp(`^ckpt-inspect: ${files.empty}: file offset 0x0: not a ckpt image: 0 bytes is too small to hold a head record\n$`));
  });

  it('says in one line naming the checkpoint what is wrong with a CRIU checkpoint that cannot be read', async function () {
    this.timeout(120000);
    const copy = copyFixture('single');
    try {
      const inventory = path.join(copy.dir, 'inventory.img');
      const b = fs.readFileSync(inventory);
      b.writeUInt32LE(0xdeadbeef, 0);
      fs.writeFileSync(inventory, b);
      const cutTar = path.join(copy.root, 'cut.tar');
      fs.writeFileSync(cutTar, fs.readFileSync(criuFixture('podman/podman.tar')).subarray(0, 50_000));
      const cutGzip = path.join(copy.root, 'cut.tar.gz');
      fs.writeFileSync(cutGzip, fs.readFileSync(criuFixture('podman/podman-gzip.tar.gz')).subarray(0, 9000));
      // A folder whose inventory.img is a FIFO: nothing may wait for a writer.
      const fifoFolder = path.join(copy.root, 'fifo-folder');
      fs.mkdirSync(fifoFolder);
      assert.equal(spawnSync('mkfifo', [path.join(fifoFolder, 'inventory.img')]).status, 0);
      for (const file of [copy.dir, inventory, cutTar, cutGzip, fifoFolder]) {
        for (const args of commandsOn(file, good)) {
          const r = await runInspect(...args);
          assert.equal(r.code, 2, `ckpt-inspect ${args.join(' ')} -> ${r.code} ${r.err}`);
          assertOneLine(args, r, file);
        }
      }
    } finally {
      copy.remove();
    }
  });

  it('reads an image cut anywhere without an internal error', async function () {
    this.timeout(60000);
    const sample = buildSample().bytes;
    const cut = path.join(dir, 'cut.ckpt');
    for (const at of [0, 31, 32, 40, 100, 1000, 5000, 9000, 20000, sample.length - 1]) {
      fs.writeFileSync(cut, sample.subarray(0, at));
      for (const args of commandsOn(cut, good)) assertOneLine(args, await runInspect(...args), at < 200 ? cut : undefined);
    }
  });

  it('refuses addresses, lengths and numbers beyond their limits in one line', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['pages', good, '--addr', '0xffffffffffffff01'], /--addr 0xffffffffffffff01 with --len 256 runs past the end of the 64-bit address space/],
      [['pages', good, '--addr', '0x10000000000000000'], /address '0x10000000000000000' is not a 64-bit hex address/],
      [['pages', good, '--addr=-1'], /address '-1' is not a 64-bit hex address/],
      [['pages', good, '--addr', '-1'], /^ckpt-inspect pages: Option '--addr' argument is ambiguous\.\nusage: ckpt-inspect pages /],
      [['pages', good, '--addr', '0x1000', '--len', '99999999999999999999'], /length 99999999999999999999 is beyond the 64-bit address space/],
      [['pages', good, '--addr', '0x1000', '--len', '0x1000001'], /--len is limited to 16 MiB/],
      [['pages', good, '--addr', '0x1000', '--pid', 'abc'], /--pid must be a whole number, not 'abc'/],
      [['pages', good, '--addr', '0x1000', '--pid', '99'], /the image holds no process with pid 99/],
      [['search', good, 'x', '--context', '99999'], /--context is limited to 4096 bytes/],
      [['search', good, 'x', '--max=-3'], /--max must be a whole number/],
      [['search', good, '[', '--regex'], /./],
      [['search', good, 'x', '--pid', '5'], /no process with pid 5/],
      [['verify', good, '--format=yaml'], /--format must be text or json, not 'yaml'/],
      [['show'], /expected one IMAGE argument/],
      [['show', good, '--frobnicate'], /Unknown option '--frobnicate'/],
    ];
    for (const [args, message] of cases) {
      const r = await runInspect(...args);
      assert.equal(r.code, 2, `ckpt-inspect ${args.join(' ')} -> ${r.code}: ${r.out}`);
      assert.match(r.err, message, `ckpt-inspect ${args.join(' ')}`);
      assert.doesNotMatch(r.err, /internal error|\n\s+at /);
    }
    // The very top of the address space can be read: it ends at 2^64, not past it.
    const top = await runInspect('pages', good, '--addr', '0xffffffffffffff00');
    assert.equal(top.code, 0, top.err);
    assert.equal(top.out, 'ffffffffffffff00-10000000000000000  not mapped\n');
  });

  it('names the file that shrinks while it is read', async () => {
    const file = path.join(dir, 'shrinking.ckpt');
    fs.writeFileSync(file, buildSample().bytes);
    const img = await CheckpointImage.open(file);
    try {
      fs.truncateSync(file, 8192);
      const e = await verifyImage(img).then(
        () => undefined,
        (x: unknown) => x,
      );
      assert.ok(e instanceof SourceError, String(e));
      assert.equal(e.file, file);
      assert.match((inImage(file, e) as Error).message, new RegExp(`^${file}: the file shrank while being read \\(at offset \\d+, it had \\d+ bytes\\)$`));
    } finally {
      await img.close();
    }
  });

  it('prints one line, not a stack, as the bundled executable too', function () {
    const bin = path.resolve(__dirname, '../../dist/ckpt-inspect.js');
    if (!fs.existsSync(bin)) this.skip(); // built by `npm install`; the suite in CI always has it
    for (const args of [
      ['verify', '/dev/null'],
      ['pages', good, '--addr', '0xffffffffffffff01'],
      ['show', dir],
    ]) {
      const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30000 });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
    }
  });
});
