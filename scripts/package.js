#!/usr/bin/env node
'use strict';
// `npm run package [-- -o FILE]`: the VSIX for the Marketplace or Open VSX. It holds a native binary,
// so it is platform-specific: built here, it is for this machine's platform (vsce --target), and the
// binary is stripped (its debug info is most of its size and no user needs it). The Marketplace page
// is MARKETPLACE.md (--readme-path); .vscodeignore says what else goes in, and the VSIX test
// (test/browser/vsix.test.ts) checks the exact list.

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');

// The checkpointer is x86-64 code (ptrace register sets, syscall injection): linux-x64 only.
const TARGETS = { 'linux-x64': 'linux-x64' };
const here = `${process.platform}-${process.arch}`;
const target = TARGETS[here];
if (!target) {
  console.error(`package: the native checkpointer builds for linux-x64 only; this machine is ${here}`);
  process.exit(1);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.error) {
    console.error(`package: cannot run ${cmd}: ${r.error.message}`);
    process.exit(1);
  }
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!process.env.CKPT_PACKAGE_NO_BUILD) run('npm', ['run', '--silent', 'build']);
const bin = path.join(root, 'dist', 'bin', 'ckpt');
if (!fs.existsSync(bin)) {
  console.error('package: dist/bin/ckpt is missing (npm run build:native)');
  process.exit(1);
}
// In place: dist/ is a build output, and make rebuilds the binary only when a source changes.
run('strip', ['--strip-all', bin]);
const vsce = path.join(root, 'node_modules', '.bin', 'vsce');
run(vsce, ['package', '--no-dependencies', '--target', target, '--readme-path', 'MARKETPLACE.md', ...process.argv.slice(2)]);
