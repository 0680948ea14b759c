#!/usr/bin/env node
'use strict';
// Fuzzes the C image reader (the code `ckpt restore` and `--dry-run` read images with) with
// libFuzzer under ASan and UBSan: `make -C src/native fuzz`, then a run of FUZZ_SECONDS (default
// 60) seeded with a real image of a live process, made here by `ckpt dump`, and with every file
// of test/fuzz/native-corpus/, the regressions: inputs that once failed, replayed on every run.
// A failure leaves its input in build/fuzz/; copy it into test/fuzz/native-corpus/ once fixed.
//   FUZZ_SECONDS=600 node scripts/fuzz-native.js     a long run (npm run fuzz)

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const seconds = Number(process.env.FUZZ_SECONDS || 60);
const work = path.join(root, 'build', 'fuzz');
const corpus = path.join(work, 'native-corpus');
const seeds = path.join(work, 'native-seeds');
const regressions = path.join(root, 'test', 'fuzz', 'native-corpus');
const fuzzer = path.join(root, 'build', 'native-fuzz', 'fuzz_image');
const ckpt = path.join(root, 'dist', 'bin', 'ckpt');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
}

/** A real image: a short-lived process of our own, dumped and killed. */
function realImage() {
  const child = spawn('sleep', ['600'], { stdio: 'ignore', detached: true });
  try {
    const image = path.join(seeds, 'sleep.ckpt');
    fs.rmSync(image, { force: true });
    // --allow-unsupported: a caller's inherited fds (a pipe to a terminal multiplexer, say) are recorded, not refused
    // the same process compressed (format 2.2 pages_zstd), where this ckpt has zstd
    const zimage = path.join(seeds, 'sleep-zstd.ckpt');
    fs.rmSync(zimage, { force: true });
    spawnSync(ckpt, ['dump', String(child.pid), '-o', zimage, '--compress', '--allow-unsupported'], { stdio: 'ignore' });
    run(ckpt, ['dump', String(child.pid), '-o', image, '--kill', '--allow-unsupported'], { stdio: ['ignore', 'inherit', 'ignore'] });
  } finally {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      /* killed by the dump already */
    }
  }
}

function main() {
  run('make', ['-s', '-C', path.join(root, 'src', 'native'), 'fuzz']);
  fs.mkdirSync(corpus, { recursive: true });
  fs.mkdirSync(seeds, { recursive: true });
  realImage();
  const args = [
    `-max_total_time=${seconds}`,
    '-timeout=10', // one input may take no more than 10 s: a hang is a failure
    '-rss_limit_mb=2048',
    '-max_len=262144',
    `-artifact_prefix=${work}${path.sep}`,
    '-print_final_stats=1',
    corpus,
    seeds,
    ...(fs.existsSync(regressions) ? [regressions] : []),
  ];
  const t0 = Date.now();
  const r = spawnSync(fuzzer, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const log = `${r.stdout}${r.stderr}`;
  const runs = /Done (\d+) runs in (\d+) second/.exec(log);
  const cov = /cov: (\d+) ft: (\d+) corp: (\d+)/g;
  let last;
  for (let m; (m = cov.exec(log));) last = m;
  if (r.status !== 0 || !runs) {
    process.stderr.write(log.split('\n').slice(-60).join('\n'));
    console.error(`fuzz-native: the C image reader failed (exit ${r.status ?? r.signal}); the input is in ${work}`);
    process.exit(1);
  }
  const regressionCount = fs.existsSync(regressions) ? fs.readdirSync(regressions).filter((f) => !f.startsWith('.') && f !== 'README.md').length : 0;
  console.log(
    `fuzz-native: ${runs[1]} executions in ${((Date.now() - t0) / 1000).toFixed(0)} s, no failure; ` +
      `${last ? `${last[1]} edges, corpus ${last[3]} inputs; ` : ''}${regressionCount} regression inputs replayed`,
  );
}

main();
