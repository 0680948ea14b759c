#!/usr/bin/env node
'use strict';
// `npm test`: every test group, in order, stopping at the first failure. Each group is an npm
// script of its own so that it can be run alone while working on it.

const { spawnSync } = require('child_process');
const pkg = require('../package.json');

// The native suite runs twice: as built, and under AddressSanitizer + UBSan; the fuzzers run for
// a minute each (`npm run fuzz` runs them for longer); the bench once at 16 MiB, for correctness.
const groups = ['typecheck', 'lint', 'test:unit', 'test:limits', 'test:native', 'test:native:asan', 'test:bench', 'test:fuzz', 'test:vscode', 'test:browser'];
// Every build inside the test run treats C warnings as errors (src/native/Makefile), as CI does.
process.env.CKPT_WERROR = '1';
const started = Date.now();
for (const g of groups) {
  if (!pkg.scripts[g]) continue;
  const t0 = Date.now();
  console.log(`\n=== npm run ${g}`);
  const r = spawnSync('npm', ['run', '--silent', g], { stdio: 'inherit' });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.status !== 0) {
    console.error(`\n=== ${g} failed (exit ${r.status ?? r.signal}) after ${secs} s`);
    process.exit(1);
  }
  console.log(`=== ${g} passed in ${secs} s`);
}
console.log(`\nall test groups passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
