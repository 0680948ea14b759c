'use strict';
// Bundles: the extension (Node, extension host), the ckpt-inspect CLI (Node), and the webview
// scripts (browser). kaitai-struct's runtime is bundled; its optional iconv-lite is not needed
// because every string in the format is UTF-8.

const path = require('path');
const webpack = require('webpack');

const tsRule = {
  test: /\.ts$/,
  exclude: /node_modules/,
  use: [{ loader: 'ts-loader', options: { transpileOnly: true } }],
};
const ignoreIconv = new webpack.IgnorePlugin({ resourceRegExp: /^iconv-lite$/, contextRegExp: /kaitai-struct/ });

/** Makes the CLI bundle executable, as the package.json `bin` entry needs. */
class ExecutableOutput {
  apply(compiler) {
    compiler.hooks.afterEmit.tap('ExecutableOutput', (compilation) => {
      for (const asset of Object.keys(compilation.assets)) {
        if (asset.endsWith('.js')) require('fs').chmodSync(path.join(compiler.outputPath, asset), 0o755);
      }
    });
  }
}

const common = (argv) => ({
  mode: argv.mode || 'development',
  devtool: argv.mode === 'production' ? 'source-map' : 'eval-cheap-module-source-map',
  resolve: { extensions: ['.ts', '.js'] },
  module: { rules: [tsRule], parser: { javascript: { amd: false } } },
  plugins: [ignoreIconv],
  infrastructureLogging: { level: 'warn' },
  stats: 'errors-warnings',
});

module.exports = (env, argv) => [
  {
    ...common(argv),
    name: 'extension',
    target: 'node',
    // The memory search's worker beside the extension: dist/searchWorker.js, which imageSearch.ts
    // starts by its path relative to the bundle (node targets keep the real __dirname).
    entry: { extension: './src/extension.ts', searchWorker: './src/checkpoint/searchWorker.ts' },
    output: { path: path.resolve(__dirname, 'dist'), filename: '[name].js', libraryTarget: 'commonjs2' },
    externals: { vscode: 'commonjs vscode' },
  },
  {
    ...common(argv),
    name: 'cli',
    target: 'node',
    entry: { 'ckpt-inspect': './src/cli/ckptInspect.ts' },
    output: { path: path.resolve(__dirname, 'dist'), filename: '[name].js' },
    plugins: [ignoreIconv, new webpack.BannerPlugin({ banner: '#!/usr/bin/env node', raw: true, entryOnly: true }), new ExecutableOutput()],
  },
  {
    // The webviews (the image editor, the compare editor): browser code that imports only src/shared
    // (never the image library), loaded under a CSP without 'unsafe-eval', hence no eval-based source maps.
    ...common(argv),
    name: 'webview',
    target: 'web',
    devtool: 'source-map',
    entry: { editor: './src/webviews/app/main.ts', compare: './src/webviews/app/compareMain.ts' },
    output: { path: path.resolve(__dirname, 'dist', 'webview'), filename: '[name].js' },
    plugins: [],
    performance: { maxEntrypointSize: 100 * 1024, maxAssetSize: 100 * 1024, hints: 'error' },
  },
];
