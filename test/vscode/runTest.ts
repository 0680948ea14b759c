// `npm run test:vscode`: the extension-host suite (test/vscode/suite, bundled to out/vscode-suite) run
// through @vscode/test-electron's runTests, the standard entry for VS Code extension tests.
//
// Here no desktop VS Code can be downloaded, so vscodeExecutablePath is code-server-as-vscode, which
// runs the suite in code-server's real extension host. On a machine that can download VS Code,
// CKPT_VSCODE_DESKTOP=1 leaves vscodeExecutablePath out and runTests fetches and runs a desktop build
// (CKPT_VSCODE_DESKTOP=1.139.1 picks a version); CKPT_VSCODE_EXECUTABLE=/path/to/code uses one already
// installed. Either way the suite writes its counts to CKPT_TEST_RESULTS, and a run without counts or
// with no passing test fails here, whatever the exit code.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runTests } from '@vscode/test-electron';
import { ensureBuilt } from '../../scripts/vscode-host/build';
import { ensureVSCodeHost, repoRoot } from '../../scripts/vscode-host/provision';
import { judge, readCounts } from '../../scripts/vscode-host/runSuite';

const root = path.resolve(__dirname, '..', '..');

async function main(): Promise<number> {
  ensureBuilt({ suite: true });
  if (!process.env.CKPT_VSCODE_DESKTOP) ensureVSCodeHost(); // once, ~3 min; then instant
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-runtests-'));
  try {
    const resultsFile = path.join(scratch, 'results.json');
    const workspace = path.join(scratch, 'workspace');
    fs.mkdirSync(workspace);
    const desktop = process.env.CKPT_VSCODE_DESKTOP;
    const vscodeExecutablePath = desktop ? process.env.CKPT_VSCODE_EXECUTABLE : (process.env.CKPT_VSCODE_EXECUTABLE ?? path.join(repoRoot, 'scripts', 'vscode-host', 'code-server-as-vscode'));
    const t0 = Date.now();
    let reported: number;
    try {
      reported = await runTests({
        vscodeExecutablePath,
        version: desktop && desktop !== '1' ? desktop : undefined,
        extensionDevelopmentPath: root,
        extensionTestsPath: path.join(root, 'out', 'vscode-suite', 'index.js'),
        extensionTestsEnv: { CKPT_TEST_RESULTS: resultsFile },
        // A desktop VS Code gets its own profile; code-server-as-vscode ignores these and uses a temp dir.
        launchArgs: [workspace, '--disable-extensions', `--user-data-dir=${path.join(scratch, 'user-data')}`, `--extensions-dir=${path.join(scratch, 'extensions')}`],
      });
    } catch (e) {
      reported = typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : 1;
      console.error(`runTests: ${e instanceof Error ? e.message : e}`);
    }
    const counts = readCounts(resultsFile);
    const verdict = judge(reported, counts);
    console.log(`vscode: ${counts?.passed ?? 0} passed, ${counts?.failed ?? 0} failed${counts?.pending ? `, ${counts.pending} skipped` : ''}`);
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    if (verdict.code !== 0) console.error(`vscode: FAILED after ${secs} s: ${verdict.reason}`);
    else console.log(`vscode: extension host suite passed in ${secs} s`);
    return verdict.code;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`vscode: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
  },
);
