// Issue 15 in the browser: the image of the -g -O0 debuggee shows, in its process view, the main
// thread's backtrace with inner, outer and main at their source lines (found in the source text),
// and the waiter's with pthread_cond_wait; clicking inner's line opens debuggee.c at that line. The
// compare editor shows two debuggees' backtraces of a thread side by side.

import * as assert from 'assert';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ensureBuilt } from '../../scripts/vscode-host/build';
import { tempFolder } from '../../scripts/vscode-host/cleanup';
import { repoRoot } from '../../scripts/vscode-host/provision';
import { killQuietly } from '../support/ticker';
import { until } from '../support/until';
import { chooseFromMenu, openFile, openView, openWorkbench, outputChannelText, runCommand, screenshotFailures, treeItem, webviewFrame, webviewText, Workbench } from './workbench';

const SOURCE = path.join(repoRoot, 'test', 'native', 'targets', 'debuggee.c');

function lineOf(text: string): number {
  const lines = fs.readFileSync(SOURCE, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(text));
  assert.ok(i >= 0, `"${text}" is in debuggee.c`);
  return i + 1;
}

describe('backtraces in the image editor, in the browser (issue 15)', function () {
  this.timeout(180_000);
  let wb: Workbench | undefined;
  let folder: string;
  let removeFolder = (): void => undefined;
  let pid: number | undefined;
  let other: number | undefined;

  before(async function () {
    const built = ensureBuilt();
    if (!built.native) {
      console.log(`    (${built.nativeMissing}: no checkpointer, no image of the debuggee)`);
      this.skip();
    }
    ({ path: folder, remove: removeFolder } = tempFolder('ckpt-browser-backtrace-'));
    const bin = path.join(folder, 'debuggee');
    const cc = spawnSync('gcc', ['-g', '-O0', '-fno-omit-frame-pointer', '-pthread', '-o', bin, SOURCE], { encoding: 'utf8' });
    assert.strictEqual(cc.status, 0, cc.stderr);
    /** Starts a debuggee and checkpoints it (leaving it running) as NAME.ckpt; returns its pid. */
    const take = async (name: string): Promise<number> => {
      const child = spawn(bin, [], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
      await until('the debuggee to be ready', async () => /^ready \d+/m.test(out), 15_000);
      const r = spawnSync(built.native!, ['dump', String(child.pid), '-o', path.join(folder, `${name}.ckpt`)], { encoding: 'utf8' });
      assert.strictEqual(r.status, 0, `ckpt dump failed: ${r.stderr}`);
      return child.pid!;
    };
    pid = await take('debuggee');
    other = await take('debuggee2');
    wb = await openWorkbench({ folder });
  });

  screenshotFailures(() => wb);

  after(async () => {
    await wb?.close();
    killQuietly(pid);
    killQuietly(other);
    removeFolder();
  });

  it("shows inner, outer and main at their lines, and a click opens debuggee.c at inner's line", async () => {
    const page = wb!.page;
    await openFile(page, 'debuggee.ckpt');
    await webviewText(page, { expect: /Verified: sound/, timeout: 30_000 });
    const frame = webviewFrame(page);
    await frame.locator('.tab', { hasText: /^Process$/ }).click();
    const main = frame.locator(`.pv-thread-row[data-tid="${pid}"] .bt-table`);
    await main.waitFor({ state: 'visible', timeout: 30_000 });
    const rows = (await main.locator('.bt-frame').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
    const expect: [string, string][] = [
      ['inner', 'nanosleep(&ts, NULL);'],
      ['outer', 'return inner(depth + 1) + 1;'],
      ['main', 'return outer(1);'],
    ];
    let last = -1;
    for (const [fn, text] of expect) {
      const i = rows.findIndex((r) => new RegExp(`^#\\d+ 0x[0-9a-f]+ ${fn}\\+\\d+ debuggee debuggee\\.c:${lineOf(text)}$`).test(r));
      assert.ok(i > last, `${fn} at debuggee.c:${lineOf(text)}, after the frames before it, in:\n${rows.join('\n')}`);
      last = i;
    }
    assert.match(await frame.locator(`.pv-thread-row[data-tid="${pid}"] .bt-stop`).innerText(), /^end of the stack/);
    // The waiter: pthread_cond_wait (libc names it __GI___pthread_cond_wait or so), then waiter.
    const waiter = frame.locator(`.pv-thread-row:not([data-tid="${pid}"]) .bt-table`);
    await waiter.waitFor({ state: 'visible', timeout: 30_000 });
    const wrows = (await waiter.locator('.bt-frame').allInnerTexts()).join('\n');
    assert.match(wrows, /pthread_cond_wait[\s\S]*\bwaiter\+\d+/);
    console.log(`    ${await wb!.screenshot('backtraces')}`);

    // A click on inner's source line opens the file at that line.
    await main
      .locator('.bt-frame', { has: frame.locator('.bt-function', { hasText: /^inner\+\d+$/ }) })
      .locator('.bt-source')
      .click();
    await page.locator('.tabs-container .tab.active[data-resource-name="debuggee.c"]').waitFor({ state: 'visible', timeout: 15_000 });
    const want = lineOf('nanosleep(&ts, NULL);');
    await until(`the cursor on line ${want}`, async () => (await page.locator('.statusbar-item', { hasText: new RegExp(`^Ln ${want}, Col 1$`) }).count()) > 0, 15_000);
    assert.deepStrictEqual(wb!.cspViolations, []);
    console.log(`    ${await wb!.screenshot('backtrace-source-opened')}`);
  });

  it("shows two debuggees' backtraces side by side in the compare editor", async () => {
    const page = wb!.page;
    await outputChannelText(page, 'Checkpoint Explorer', 'Checkpoint Explorer activated');
    // The compare editor's webview alone, and room for it.
    await runCommand(page, 'View: Close All Editors');
    await runCommand(page, 'View: Hide Panel');
    await openView(page, 'Explorer');
    const a = treeItem(page, 'Explorer', 'debuggee.ckpt');
    const b = treeItem(page, 'Explorer', 'debuggee2.ckpt');
    await a.click();
    await b.click({ modifiers: ['Control'] });
    await chooseFromMenu(page, b, 'Compare Selected Checkpoints');
    await page.locator('.tabs-container .tab.active', { hasText: /debuggee.*↔.*debuggee/ }).waitFor({ state: 'visible', timeout: 30_000 });
    const frame = webviewFrame(page);
    const proc = frame.locator('.diff-row', { has: frame.locator('.badge', { hasText: /^PROCESS$/ }) }).first();
    await proc.waitFor({ state: 'visible', timeout: 30_000 });
    await proc.click();
    // The main threads, paired: each side's frames name inner, outer and main.
    const pair = frame.locator('.bt-section', { hasText: new RegExp(`thread ${pid} → ${other}|thread ${other} → ${pid}`) }).locator('.bt-pair');
    const chain = async (side: string) =>
      (await pair.locator(`.bt-side.${side} .bt-function`).allInnerTexts()).map((t) => t.trim().replace(/\+\d+$/, '')).filter((f) => ['inner', 'outer', 'main'].includes(f));
    for (const side of ['a', 'b']) {
      await until(`side ${side}'s backtrace with inner, outer and main`, async () => (await chain(side)).join() === 'inner,outer,main', 30_000).catch(async (e: Error) => {
        throw new Error(`${e.message}: it has ${(await chain(side)).join(', ')}`);
      });
    }
    assert.deepStrictEqual(wb!.cspViolations, []);
    console.log(`    ${await wb!.screenshot('compare-backtraces')}`);
  });
});
