'use strict';
// Bundles the extension-host test suite (test/vscode/suite) into out/vscode-suite/index.js, the
// extensionTestsPath that the real VS Code loads. Same loader as the extension's own bundle, so a test
// can import src/ code (and the generated decoder) exactly as the extension does. vscode comes from the
// extension host; mocha stays a plain require of the repo's node_modules. Not part of the VSIX (out/).

const path = require('path');

const root = path.resolve(__dirname, '..', '..');

module.exports = (env, argv) => ({
  name: 'vscode-suite',
  mode: argv.mode || 'development',
  target: 'node',
  context: root,
  devtool: 'inline-source-map',
  entry: { index: './test/vscode/suite/index.ts' },
  output: { path: path.join(root, 'out', 'vscode-suite'), filename: '[name].js', libraryTarget: 'commonjs2' },
  resolve: { extensions: ['.ts', '.js'] },
  module: {
    rules: [{ test: /\.ts$/, exclude: /node_modules/, use: [{ loader: 'ts-loader', options: { transpileOnly: true } }] }],
    parser: { javascript: { amd: false } },
  },
  externals: { vscode: 'commonjs vscode', mocha: 'commonjs mocha' },
  infrastructureLogging: { level: 'warn' },
  stats: 'errors-warnings',
});
