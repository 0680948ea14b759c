#!/usr/bin/env node
'use strict';
// `npm run watch`: rebuild the generated format code when formats/*.ksy changes, and keep the
// webpack bundles (extension, CLI, webviews) building in watch mode. The native binary is rebuilt
// with `npm run build:native` (make is incremental).

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const buildFormats = () => spawnSync(process.execPath, [path.join(__dirname, 'build-formats.js')], { stdio: 'inherit' }).status === 0;

buildFormats();
let timer;
fs.watch(path.join(root, 'formats'), (_event, file) => {
  if (!file || !file.endsWith('.ksy')) return;
  clearTimeout(timer);
  timer = setTimeout(buildFormats, 200);
});

const webpack = spawn(process.execPath, [require.resolve('webpack-cli/bin/cli.js'), '--watch', '--mode', 'development'], { cwd: root, stdio: 'inherit' });
const stop = () => {
  webpack.kill('SIGTERM');
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
webpack.on('exit', (code) => process.exit(code ?? 1));
