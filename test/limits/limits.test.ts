// Time and memory linear in the image's size, bounded, for every ckpt-inspect command, run as a
// user runs it (dist/ckpt-inspect.js in a process of its own): on hostile images of 2 MB
// (test/support/adversarialImages.ts), on the issue's own reproducers at full size, and under a
// 2 GB limit on address space. Budgets are generous (a loaded 2-core machine); what they catch
// is quadratic work, output or memory, which on these images takes minutes or gigabytes.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { adversarialImages, forwardChain, manyPads, nulEnvironment } from '../support/adversarialImages';
import { buildSample } from '../support/sampleImage';
import { buildTarget, realTargetUnavailable, startTarget } from '../unit/diffRealTarget';
import { BUNDLE, InspectProcess, inspectProcess } from './inspectProcess';

/** Size of each hostile image. */
const MB = 2;
/** Per command on an image of MB megabytes: far above what a linear reader needs (~2 s, ~300 MiB). */
const TIME_BUDGET_MS = 60_000;
const RSS_BUDGET_MIB = 512;
/** Output per byte of image: the JSON of a deep tree is the most, about 20 bytes per byte. */
const OUTPUT_PER_BYTE = 40;

function commandsFor(image: string, twin = image): string[][] {
  return [
    ['show', image],
    ['show', '-v', image],
    ['json', image],
    ['verify', image],
    ['pages', image, '--addr', '0x10000', '--len', '65536'],
    ['search', image, 'a'],
    ['diff', image, twin, '--format=json'],
  ];
}

/** Run `jobs` two at a time (the machine has two cores). */
async function runAll(jobs: (() => Promise<InspectProcess>)[]): Promise<InspectProcess[]> {
  const results: InspectProcess[] = [];
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) results.push(await jobs[next++]());
  };
  await Promise.all([worker(), worker()]);
  return results;
}

function problemsOf(r: InspectProcess, size: number, budget = { ms: TIME_BUDGET_MS, rss: RSS_BUDGET_MIB }): string[] {
  const what = `ckpt-inspect ${r.args.map((a) => path.basename(a)).join(' ')}`;
  const out: string[] = [];
  if (r.timedOut) out.push(`${what}: still running after ${budget.ms} ms`);
  else if (![0, 1, 2].includes(r.code ?? -1)) out.push(`${what}: exit ${r.code ?? r.signal}: ${r.err.slice(0, 300)}`);
  if (/internal error|\n\s+at |FATAL ERROR/.test(r.err)) out.push(`${what}: ${r.err.slice(0, 300)}`);
  if (r.rssMiB > budget.rss) out.push(`${what}: ${Math.round(r.rssMiB)} MiB resident`);
  if (r.outBytes > OUTPUT_PER_BYTE * size + 1e6) out.push(`${what}: ${r.outBytes} bytes of output for ${size} bytes of image`);
  return out;
}

describe('limits: time and memory linear in the image', function () {
  this.timeout(20 * 60_000);
  let dir: string;
  before(function () {
    if (!fs.existsSync(BUNDLE)) this.skip(); // built by `npm install`; the suite in CI always has it
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-limits-'));
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  it(`every command on each hostile image of ${MB} MB`, async () => {
    const images = adversarialImages(MB).map((a) => {
      const file = path.join(dir, `${a.name}.ckpt`);
      fs.writeFileSync(file, a.bytes);
      const twin = a.twin ? path.join(dir, `${a.name}-twin.ckpt`) : file;
      if (a.twin) fs.writeFileSync(twin, a.twin);
      return { ...a, file, twin };
    });
    const jobs = images.flatMap((a) => commandsFor(a.file, a.twin).map((args) => () => inspectProcess(args, { timeoutMs: TIME_BUDGET_MS })));
    const results = await runAll(jobs);
    const sizeOf = (r: InspectProcess) => fs.statSync(r.args.find((a) => a.startsWith(dir))!).size;
    const problems = results.flatMap((r) => problemsOf(r, sizeOf(r)));
    const slowest = results.reduce((a, b) => (b.ms > a.ms ? b : a));
    const biggest = results.reduce((a, b) => (b.rssMiB > a.rssMiB ? b : a));
    console.log(
      `      ${results.length} runs on ${images.length} images: slowest ${Math.round(slowest.ms)} ms (${slowest.args.map((a) => path.basename(a)).join(' ')}), most memory ${Math.round(biggest.rssMiB)} MiB (${biggest.args.map((a) => path.basename(a)).join(' ')})`,
    );
    assert.deepEqual(problems, []);
  });

  it("the issue's reproducers at full size: 2M pads, 32k forward ptags, 48 MB of NULs", async () => {
    const pads = path.join(dir, 'pads.ckpt');
    fs.writeFileSync(pads, manyPads((1 << 21) - 3));
    const forward = path.join(dir, 'forward.ckpt');
    fs.writeFileSync(forward, forwardChain(32768));
    const nuls = path.join(dir, 'nuls.ckpt');
    fs.writeFileSync(nuls, nulEnvironment(48 << 20));
    // Before: 16.6 s and 1.95 GB; 77 s; 47 s and 4.7 GB, then "Invalid string length".
    const cases: [string[], { ms: number; rss: number }][] = [
      [['verify', pads], { ms: 120_000, rss: 1024 }],
      [['verify', forward], { ms: 30_000, rss: 512 }],
      [['json', nuls], { ms: 120_000, rss: 512 }],
      [['show', '-v', nuls], { ms: 60_000, rss: 512 }],
    ];
    const problems: string[] = [];
    for (const [args, budget] of cases) {
      const r = await inspectProcess(args, { timeoutMs: budget.ms });
      console.log(`      ${args.slice(0, -1).join(' ')} ${path.basename(args[args.length - 1])}: ${Math.round(r.ms)} ms, ${Math.round(r.rssMiB)} MiB, ${r.outBytes} bytes out`);
      problems.push(...problemsOf(r, fs.statSync(args[args.length - 1]).size, budget));
    }
    assert.deepEqual(problems, []);
  });

  it('every command under a 2 GB limit on address space (ulimit -v 2000000)', async function () {
    const sample = path.join(dir, 'sample.ckpt');
    fs.writeFileSync(sample, buildSample().bytes);
    const other = path.join(dir, 'other.ckpt');
    fs.writeFileSync(other, buildSample({ corruptHashOfPage: 1 }).bytes);
    const images = [sample];
    if (!realTargetUnavailable()) {
      const real = path.join(dir, 'real.ckpt');
      const target = await startTarget(buildTarget(dir));
      try {
        target.dump(real);
      } finally {
        target.stop();
      }
      images.push(real);
    }
    const problems: string[] = [];
    for (const image of images) {
      for (const args of [...commandsFor(image), ['diff', image, other], ['search', image, '--regex', 'h.llo', '--format=json']]) {
        const free = await inspectProcess(args, { timeoutMs: 60_000 });
        const limited = await inspectProcess(args, { timeoutMs: 60_000, addressSpaceKiB: 2_000_000 });
        // The same answer (timings in the output aside) with the limit as without it.
        if (limited.code !== free.code || limited.err !== free.err || Math.abs(limited.outBytes - free.outBytes) > 64) {
          problems.push(`ckpt-inspect ${args.map((a) => path.basename(a)).join(' ')}: exit ${limited.code} (${limited.err.trim()}) under the limit, ${free.code} without`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });
});
