#!/usr/bin/env node
'use strict';
// Builds the native checkpointer (src/native) with the machine's gcc into dist/bin/ckpt,
// which the extension bundles. Runs after build-formats, whose C header it includes.

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const makefile = path.join(root, 'src', 'native', 'Makefile');
if (!fs.existsSync(makefile)) {
  console.log('native: no src/native/Makefile yet, skipped');
  process.exit(0);
}
const args = ['-C', path.join(root, 'src', 'native'), `-j${Math.max(1, require('os').availableParallelism?.() ?? 2)}`, ...process.argv.slice(2)];
const r = spawnSync('make', args, { stdio: 'inherit' });
if (r.error) {
  console.error(`native: cannot run make: ${r.error.message} (install gcc and make: apt-get install build-essential)`);
  process.exit(1);
}
process.exit(r.status ?? 1);
