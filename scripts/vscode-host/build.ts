// Builds what a real VS Code loads, when its inputs are newer than its outputs: the extension bundle
// (dist/extension.js, with `npm run build`: formats, native, bundle) and the extension-host suite
// (out/vscode-suite/index.js). Used by `npm start`, test:vscode and test:browser, so that they always
// run the code as it is in the tree without rebuilding what is fresh.

import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from './provision';

export const extensionBundle = path.join(repoRoot, 'dist', 'extension.js');
export const suiteBundle = path.join(repoRoot, 'out', 'vscode-suite', 'index.js');
export const nativeBinary = path.join(repoRoot, 'dist', 'bin', 'ckpt');

/** The newest mtime under the given files and folders (node_modules and dot-folders skipped). */
function newest(paths: string[]): number {
  let max = 0;
  const visit = (p: string): void => {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      for (const e of fs.readdirSync(p)) if (e !== 'node_modules' && !e.startsWith('.')) visit(path.join(p, e));
    } else {
      max = Math.max(max, st.mtimeMs);
    }
  };
  for (const p of paths) visit(path.join(repoRoot, p));
  return max;
}

function mtime(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function npmRun(script: string): boolean {
  const t0 = Date.now();
  const r = spawnSync('npm', ['run', '--silent', script], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
  const ok = r.status === 0;
  process.stderr.write(`build: npm run ${script} ${ok ? 'done' : `FAILED (exit ${r.status ?? r.signal})`} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return ok;
}

const extensionInputs = ['src', 'formats', 'scripts', 'webpack.config.js', 'package.json', 'tsconfig.json'];

export interface BuildResult {
  /** dist/bin/ckpt, if it exists after the build. */
  native?: string;
  /** Why there is no native binary (no sources yet, or its build failed). */
  nativeMissing?: string;
}

/**
 * Rebuilds the extension (and with `suite`, the extension-host suite) if stale. A failing bundle build
 * throws; a failing native build only leaves `nativeMissing` set, so that the extension's own tests
 * and `npm start` still run while the checkpointer is being written.
 */
export function ensureBuilt(opts: { suite?: boolean } = {}): BuildResult {
  // Once per process: a test run builds at its start, not again for every test file.
  const key = opts.suite ? 'suite' : 'extension';
  const done = built.get(key) ?? (opts.suite ? undefined : built.get('suite'));
  if (done) return done;
  const result = build(opts);
  built.set(key, result);
  return result;
}

const built = new Map<string, BuildResult>();

function build(opts: { suite?: boolean }): BuildResult {
  const hasNative = fs.existsSync(path.join(repoRoot, 'src', 'native', 'Makefile'));
  let nativeOk = true;
  if (mtime(extensionBundle) < newest(extensionInputs)) {
    // `npm run build` stops at the first failing step; run the steps one by one so that a broken native
    // build does not keep the extension from being bundled.
    if (!npmRun('build:formats')) throw new Error('build: formats failed');
    if (!npmRun('build:wasm')) throw new Error('build: wasm failed');
    nativeOk = !hasNative || npmRun('build:native');
    if (!npmRun('build:bundle')) throw new Error('build: the extension bundle failed');
  } else if (hasNative) {
    nativeOk = npmRun('build:native'); // make: a no-op when fresh
  }
  if (opts.suite && mtime(suiteBundle) < newest([...extensionInputs, 'test/vscode/suite', 'test/vscode/webpack.config.js'])) {
    if (!npmRun('build:vscode-suite')) throw new Error('build: the extension-host suite failed');
  }
  if (fs.existsSync(nativeBinary)) return { native: nativeBinary };
  return {
    nativeMissing: !hasNative
      ? 'the native checkpointer is not in the tree yet (no src/native/Makefile)'
      : !nativeOk
        ? 'the native checkpointer failed to build (npm run build:native)'
        : `the native build did not produce ${path.relative(repoRoot, nativeBinary)}`,
  };
}
