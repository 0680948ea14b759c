// Runs an extension test suite (a .js exporting run()) in the real extension host of code-server,
// driven by headless Chromium: the workbench gets the extension under development and the test entry
// through the URL payload, relays the extension host's console through codeAutomationLog, and reports
// the run's exit code through codeAutomationExit.
//
// It takes the arguments that @vscode/test-electron gives a VS Code executable, so it also serves as
// one (see code-server-as-vscode): --extensionDevelopmentPath=DIR --extensionTestsPath=FILE [FOLDER].
// Other flags (--no-sandbox, --user-data-dir, ...) are desktop flags and are ignored: the state lives in
// a temp folder. With no arguments it runs this repository's suite, out/vscode-suite/index.js.
//
// A run passes only if the exit code is 0 AND the suite wrote its counts (CKPT_TEST_RESULTS) AND at
// least one test passed and none failed: a suite that never started, or found no tests, fails.

import * as fs from 'fs';
import * as path from 'path';
import { format } from 'util';
import { launchBrowser } from './browser';
import { tempFolder } from './cleanup';
import { startCodeServer } from './codeServer';
import { repoRoot } from './provision';

/**
 * codeAutomationLog carries the workbench's own log beside the extension host's console; these are the
 * workbench's routine startup lines, left out unless CKPT_VSCODE_VERBOSE=1.
 */
const workbenchChatter =
  /^(Resolving connection token|Resolved connection token|Creating a socket|\[reconnection-grace-time\]|Ignoring fetching additional builtin extensions|\[Service Worker\]|\[AgentHost:|\[AccountPolicyGate\])/;

export interface SuiteCounts {
  passed: number;
  failed: number;
  pending: number;
  total: number;
}

export interface SuiteRunOptions {
  extensionDevelopmentPath: string;
  extensionTestsPath: string;
  /** Folder to open; a fresh empty temp folder when absent. */
  folder?: string;
  /** Whole-run limit; a hang past it fails (default CKPT_VSCODE_TEST_TIMEOUT seconds, or 180). */
  timeoutMs?: number;
  /** Where the suite writes its counts; a temp file when absent. */
  resultsFile?: string;
  /** Passed to the extension host's environment. */
  env?: Record<string, string>;
  /** Prints a line as it arrives (default: stdout). */
  print?: (line: string) => void;
}

export interface SuiteRunResult {
  /** The process exit code to use: 0 only for a real pass. */
  code: number;
  /** What the workbench reported through codeAutomationExit, if it did. */
  reported?: number;
  counts?: SuiteCounts;
  reason?: string;
}

/** Reads the counts a suite wrote; undefined if it wrote none or garbage. */
export function readCounts(file: string): SuiteCounts | undefined {
  try {
    const c = JSON.parse(fs.readFileSync(file, 'utf8')) as SuiteCounts;
    return typeof c.passed === 'number' && typeof c.failed === 'number' ? c : undefined;
  } catch {
    return undefined;
  }
}

/** Turns an exit code and the suite's counts into a verdict; shared with runTest.ts. */
export function judge(reported: number | undefined, counts: SuiteCounts | undefined): { code: number; reason?: string } {
  if (reported === undefined) return { code: 1, reason: 'the test run did not report an exit code' };
  if (reported !== 0) return { code: reported, reason: `the test run exited ${reported}` };
  if (!counts) return { code: 1, reason: 'exit 0 but the suite wrote no counts: did run() run at all?' };
  if (counts.failed > 0) return { code: 1, reason: `exit 0 but ${counts.failed} test(s) failed` };
  if (counts.passed === 0) return { code: 1, reason: 'exit 0 but no test passed (0 tests found?)' };
  return { code: 0 };
}

export async function runSuite(o: SuiteRunOptions): Promise<SuiteRunResult> {
  const print = o.print ?? ((l: string) => process.stdout.write(`${l}\n`));
  const timeoutMs = o.timeoutMs ?? Number(process.env.CKPT_VSCODE_TEST_TIMEOUT || 180) * 1000;
  if (!fs.existsSync(o.extensionTestsPath)) {
    return { code: 1, reason: `${o.extensionTestsPath} does not exist (build it: npm run build:vscode-suite)` };
  }
  const { path: scratch, remove: removeScratch } = tempFolder('ckpt-suite-');
  const folder = o.folder ?? path.join(scratch, 'workspace');
  fs.mkdirSync(folder, { recursive: true });
  const resultsFile = o.resultsFile ?? path.join(scratch, 'results.json');
  fs.rmSync(resultsFile, { force: true });

  const t0 = Date.now();
  const server = await startCodeServer({
    name: 'ckpt-suite',
    env: { ...o.env, CKPT_TEST_RESULTS: resultsFile, CKPT_TEST_HOST: 'code-server' },
  }).catch((e) => {
    removeScratch();
    throw e;
  });
  let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  const pageLog: string[] = [];
  const verbose = process.env.CKPT_VSCODE_VERBOSE === '1';
  try {
    print(`code-server ${server.host.vscodeVersion} at ${server.origin} (healthy after ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    browser = await launchBrowser();
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    let reportExit!: (code: number) => void;
    const exited = new Promise<number>((resolve) => (reportExit = resolve));
    await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => {
      const line = Array.isArray(args) && args.length ? format(...(args as [unknown, ...unknown[]])) : String(args ?? '');
      if (!verbose && type === 'info' && workbenchChatter.test(line)) return;
      print(type === 'error' || type === 'warn' ? `[${type}] ${line}` : line);
    });
    await page.exposeFunction('codeAutomationExit', (code: number) => reportExit(Number(code)));
    page.on('console', (m) => pageLog.push(`[page ${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => pageLog.push(`[page error] ${e.message}`));

    await page.goto(server.workbenchUrl({ folder, extensionDevelopmentPath: o.extensionDevelopmentPath, extensionTestsPath: o.extensionTestsPath }));
    let timer: NodeJS.Timeout | undefined;
    const reported = await Promise.race([exited, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)))]);
    clearTimeout(timer);
    const counts = readCounts(resultsFile);
    const verdict = reported === undefined ? { code: 124, reason: `no result within ${timeoutMs / 1000} s (hang?); set CKPT_VSCODE_TEST_TIMEOUT to change the limit` } : judge(reported, counts);
    if (reported === undefined || !counts) {
      print(`--- last lines of the browser console:\n${pageLog.slice(-40).join('\n')}`);
      print(`--- last lines of code-server:\n${server.log().trimEnd().split('\n').slice(-20).join('\n')}`);
    }
    return { ...verdict, reported, counts };
  } finally {
    await browser?.close();
    await server.stop();
    removeScratch();
  }
}

/** Parses the flags @vscode/test-electron passes to a VS Code executable. */
export function parseVSCodeArgs(argv: string[]): { extensionDevelopmentPath?: string; extensionTestsPath?: string; folder?: string; ignored: string[] } {
  const out: ReturnType<typeof parseVSCodeArgs> = { ignored: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const m = /^--(extensionDevelopmentPath|extensionTestsPath)(?:=(.*))?$/.exec(a);
    if (m) {
      const v = m[2] ?? argv[++i];
      if (m[1] === 'extensionDevelopmentPath') out.extensionDevelopmentPath = path.resolve(v);
      else out.extensionTestsPath = path.resolve(v);
    } else if (a.startsWith('-')) {
      out.ignored.push(a);
    } else {
      out.folder = path.resolve(a);
    }
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseVSCodeArgs(process.argv.slice(2));
  // Under runTests (runTest.ts) the caller chose the results file and judges the run itself.
  const outer = process.env.CKPT_TEST_RESULTS;
  const t0 = Date.now();
  const r = await runSuite({
    extensionDevelopmentPath: args.extensionDevelopmentPath ?? repoRoot,
    extensionTestsPath: args.extensionTestsPath ?? path.join(repoRoot, 'out', 'vscode-suite', 'index.js'),
    folder: args.folder,
    resultsFile: outer || undefined,
  });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  const c = r.counts;
  if (outer) {
    console.log(`code-server-as-vscode: the suite reported exit ${r.reported ?? 'nothing'} after ${secs} s${r.code ? ` (${r.reason})` : ''}`);
    process.exit(r.reported === undefined ? r.code : r.reported);
  }
  // The plain closing line that CI reads; printed even when the counts are missing.
  console.log(`vscode: ${c?.passed ?? 0} passed, ${c?.failed ?? 0} failed${c?.pending ? `, ${c.pending} skipped` : ''}`);
  if (r.code !== 0) console.error(`vscode: FAILED after ${secs} s: ${r.reason}`);
  else console.log(`vscode: extension host suite passed in ${secs} s`);
  process.exit(r.code);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(`vscode: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
  });
}
