#!/usr/bin/env node
'use strict';
// `npm run watch`: rebuild the generated format code when formats/*.ksy changes, the WebAssembly
// when src/image/wasm/*.wat does, and keep the webpack bundles (extension, CLI, webviews) building
// in watch mode. The native binary is rebuilt with `npm run build:native` (make is incremental).

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const buildFormats = () => spawnSync(process.execPath, [path.join(__dirname, 'build-formats.js')], { stdio: 'inherit' }).status === 0;
const buildWasm = () => spawnSync(process.execPath, [path.join(__dirname, 'build-wasm.js')], { stdio: 'inherit' }).status === 0;

/** Run `build` once now, and again whenever a file ending in `ext` in `dir` changes. */
function rebuildOnChange(dir, ext, build) {
  build();
  let timer;
  fs.watch(path.join(root, dir), (_event, file) => {
    if (!file || !file.endsWith(ext)) return;
    clearTimeout(timer);
    timer = setTimeout(build, 200);
  });
}
rebuildOnChange('formats', '.ksy', buildFormats);
rebuildOnChange(path.join('src', 'image', 'wasm'), '.wat', buildWasm);

const webpack = spawn(process.execPath, [require.resolve('webpack-cli/bin/cli.js'), '--watch', '--mode', 'development'], { cwd: root, stdio: 'inherit' });
const stop = () => {
  webpack.kill('SIGTERM');
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
webpack.on('exit', (code) => process.exit(code ?? 1));
