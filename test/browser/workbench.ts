// Drives the VS Code workbench in headless Chromium, served by code-server, as a person would: the
// command palette, Quick Open, the Explorer and other tree views, context menus, webviews, the Output
// panel. Each helper waits for what it needs to see; none sleeps blindly. Screenshots go to
// .vscode-test/screenshots/<run>/, printed once per run.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { FrameLocator, Locator, Page } from 'playwright-core';
import { Browser, launchBrowser } from '../../scripts/vscode-host/browser';
import { ensureBuilt } from '../../scripts/vscode-host/build';
import { CodeServer, startCodeServer } from '../../scripts/vscode-host/codeServer';
import { cacheDir, repoRoot } from '../../scripts/vscode-host/provision';
import { until } from '../support/until';

export const extensionId = 'ckpt-explorer.ckpt-explorer';

let runDir: string | undefined;
/** This run's screenshot folder (created and printed on first use). CKPT_SCREENSHOTS overrides. */
export function screenshotDir(): string {
  if (!runDir) {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    runDir = path.resolve(process.env.CKPT_SCREENSHOTS || path.join(cacheDir, 'screenshots', stamp));
    fs.mkdirSync(runDir, { recursive: true });
    console.log(`  screenshots: ${runDir}`);
  }
  return runDir;
}

export interface WorkbenchOptions {
  /** The folder to open. */
  folder: string;
  /** Load this repo's extension as under development (the default), or not (e.g. a VSIX is installed). */
  development?: boolean;
  /** .vsix files installed into the fresh profile before the server starts. */
  installExtensions?: string[];
  settings?: Record<string, unknown>;
  env?: Record<string, string>;
}

export interface Workbench {
  page: Page;
  server: CodeServer;
  /**
   * What Chromium refused under a Content-Security-Policy (the webviews' console reaches the page's),
   * collected from the moment the workbench is ready: a test of a webview asserts it stays empty.
   */
  readonly cspViolations: string[];
  /** Saves a PNG of the whole window as NN-name.png in screenshotDir(); returns its path. */
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

let shots = 0;
/** The server behind each page: its logs go into a failure's report. */
const servers = new WeakMap<Page, CodeServer>();
/** The last errors and warnings of each page's console (the workbench's and its webviews'). */
const consoleProblems = new WeakMap<Page, string[]>();

/** Starts code-server and Chromium, opens the folder, and waits until the workbench is ready. */
export async function openWorkbench(o: WorkbenchOptions): Promise<Workbench> {
  if (o.development !== false) ensureBuilt();
  const server = await startCodeServer({ name: 'ckpt-browser', installExtensions: o.installExtensions, settings: o.settings, env: o.env });
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.goto(server.workbenchUrl({ folder: o.folder, extensionDevelopmentPath: o.development === false ? undefined : repoRoot }));
    await waitForWorkbench(page);
    // The extension's contributions (its editors above all) are known once its view container is
    // in the activity bar: a .ckpt opened before that opens in the text editor.
    if (o.development !== false || o.installExtensions?.length) {
      await page.locator('.part.activitybar [aria-label^="Checkpoints"]').first().waitFor({ state: 'attached', timeout: 60_000 });
      // And the extension has activated (its Output channel's log says so): an editor opened while
      // the extension host is still activating it may miss its provider.
      await until('the extension to activate (its log file)', () => extensionActivated(server.userDataDir), 60_000, 200);
    }
    const cspViolations: string[] = [];
    const problems: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to (load|execute|apply)/i.test(m.text())) cspViolations.push(m.text());
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text().slice(0, 500)}`);
      if (problems.length > 40) problems.shift();
    });
    consoleProblems.set(page, problems);
    const b = browser;
    servers.set(page, server);
    return {
      page,
      server,
      cspViolations,
      async screenshot(name: string): Promise<string> {
        const file = path.join(screenshotDir(), `${String(++shots).padStart(2, '0')}-${name.replace(/[^\w.-]+/g, '-')}.png`);
        await page.screenshot({ path: file });
        return file;
      },
      async close(): Promise<void> {
        await b.close();
        await server.stop();
      },
    };
  } catch (e) {
    await browser?.close();
    await server.stop();
    throw e;
  }
}

/** Registers a mocha afterEach hook in the calling suite: a failed test leaves a screenshot named after it. */
export function screenshotFailures(workbench: () => Workbench | undefined): void {
  afterEach(async function () {
    const wb = workbench();
    if (this.currentTest?.state !== 'failed' || !wb) return;
    console.log(`    failure screenshot: ${await wb.screenshot(`FAILED-${this.currentTest.title}`)}`);
    console.log(`    the editor area:\n${indent(await describeEditorArea(wb.page))}`);
  });
}

/**
 * Ready: the workbench is laid out, the folder is open in the Explorer, and the remote extension host
 * has started (its extensions contribute the status bar's language and notification entries).
 */
export async function waitForWorkbench(page: Page, timeout = 60_000): Promise<void> {
  await page.locator('.monaco-workbench').waitFor({ timeout });
  await page.locator('.part.statusbar').waitFor({ timeout });
  await page.locator('.explorer-folders-view .monaco-list').first().waitFor({ timeout });
  // Startup notifications and the welcome view must not cover what the tests look at.
  await page.keyboard.press('Escape');
}

/** The command palette's list, once it has rows for what was typed. */
function quickInput(page: Page): { box: Locator; input: Locator; rows: Locator } {
  const box = page.locator('.quick-input-widget');
  return { box, input: box.locator('input.input').first(), rows: box.locator('.quick-input-list .monaco-list-row') };
}

/** Picks the row of an open quick pick whose label is `label` (exactly, else the first containing it). */
export async function pickQuickItem(page: Page, label: string, timeout = 15_000): Promise<void> {
  const { box, input, rows } = quickInput(page);
  await box.waitFor({ state: 'visible', timeout });
  await input.fill(label.startsWith('>') ? label : (await input.inputValue()).startsWith('>') ? `>${label}` : label);
  const exact = rows.filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(label.replace(/^>/, ''))}$`) }) });
  const row = (await exact.count()) > 0 ? exact.first() : rows.filter({ hasText: label.replace(/^>/, '') }).first();
  await row.waitFor({ state: 'visible', timeout });
  await row.click();
  await box.waitFor({ state: 'hidden', timeout }).catch(() => undefined);
}

/**
 * Switches the color theme by its label (e.g. "Dark Modern", "Dark High Contrast", "Light Modern"),
 * then waits until the workbench and the visible webview of the extension (if any) have taken it.
 */
export async function setColorTheme(page: Page, label: string): Promise<void> {
  const hc = /high contrast/i.test(label),
    light = /light/i.test(label);
  const workbenchClass = hc ? (light ? 'hc-light' : 'hc-black') : light ? 'vs' : 'vs-dark';
  const webviewClass = hc ? (light ? 'vscode-high-contrast-light' : 'vscode-high-contrast') : light ? 'vscode-light' : 'vscode-dark';
  await runCommand(page, 'Preferences: Color Theme');
  await pickQuickItem(page, label);
  await page.locator(`.monaco-workbench.${workbenchClass}`).waitFor({ state: 'attached' });
  if ((await webviewHosts(page).count()) > 0) await webviewFrame(page).locator(`body.${webviewClass}`).waitFor({ state: 'attached' });
}

/**
 * Runs a command by its title in the command palette, e.g. "View: Reopen Editor With...". Some
 * workbench contributions register their commands only once the window is idle after startup, and an
 * open palette does not refresh its list, so the palette is reopened until the command shows up.
 */
export async function runCommand(page: Page, title: string, timeout = 15_000): Promise<void> {
  await pickWhenListed(page, 'F1', `>${title}`, title, `the command palette has no command "${title}"`, timeout);
}

/**
 * Opens the quick input with `key`, types `query`, and clicks the row labelled `label`. A list does
 * not refresh while open, so it is reopened until the row shows up or `timeout` passes.
 */
async function pickWhenListed(page: Page, key: string, query: string, label: string, missing: string, timeout: number): Promise<void> {
  const { box, input, rows } = quickInput(page);
  const row = rows.filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(label)}$`) }) }).first();
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      // An editor that takes the focus as it renders (the "file is binary" placeholder) closes a
      // quick input opened just before: then it is opened again.
      await page.keyboard.press(key);
      await box.waitFor({ state: 'visible', timeout: 5000 });
      await input.fill(query, { timeout: 5000 });
      await row.waitFor({ state: 'visible', timeout: 2000 });
      break;
    } catch (e) {
      await page.keyboard.press('Escape');
      if (Date.now() > deadline) throw new Error(missing, { cause: e });
    }
  }
  await row.click();
}

/** Opens a file of the workspace by its relative path with Quick Open (the default editor for it). */
export async function openFile(page: Page, relPath: string, timeout = 15_000): Promise<void> {
  await quickOpen(page, relPath, timeout);
  if (IMAGE_EDITOR_FILE.test(path.basename(relPath))) await imageEditorShown(page, relPath, timeout);
}

/** Opens a file with Quick Open, as a person does, and waits until its tab is the active one. */
async function quickOpen(page: Page, relPath: string, timeout: number): Promise<void> {
  const { box, input, rows } = quickInput(page);
  await page.keyboard.press('Control+P');
  await box.waitFor({ state: 'visible', timeout });
  await input.fill(relPath);
  const base = path.basename(relPath);
  const dir = path.dirname(relPath);
  let named = rows.filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(base)}$`) }) });
  // Of files of one name (each CRIU folder's inventory.img), the one in the folder asked for.
  if (dir !== '.') named = named.filter({ has: page.locator('.label-description', { hasText: new RegExp(`(^|/)${escapeRegExp(dir)}$`) }) });
  const row = named.first();
  await row.waitFor({ state: 'visible', timeout });
  await row.click();
  await activeTab(page, base, timeout);
}

/** Files that open in the extension's image editor by default (package.json's customEditors). */
const IMAGE_EDITOR_FILE = /\.ckpt$|^inventory\.img$|^checkpoint-.*\.tar(\.gz|\.zst)?$/;

/**
 * Waits until the active editor shows the extension's webview. Once, on the CI machine, the first
 * image opened in a fresh workbench showed its tab but never its webview, and stayed so; what the
 * editor area held then is printed, with the extension's logs, and the editor is closed and opened
 * again once, so that one lost start-up does not fail every test after it.
 */
async function imageEditorShown(page: Page, relPath: string, timeout: number): Promise<void> {
  const shown = () =>
    webviewHosts(page)
      .first()
      .waitFor({ state: 'attached', timeout: Math.max(timeout, 20_000) });
  try {
    await shown();
  } catch {
    console.log(`    the image editor of ${relPath} showed no webview; reopening it once. The editor area:\n${indent(await describeEditorArea(page))}`);
    await runCommand(page, 'View: Close Editor', timeout);
    await quickOpen(page, relPath, timeout);
    await shown();
  }
}

const indent = (s: string) => s.replace(/^/gm, '      ');

/**
 * What the editor area holds, for a failure's log: the active tab, the active editor's pane (a
 * webview, a text editor, a placeholder with its message), every webview frame with its place and
 * visibility, the notifications, and the tails of the extension host's and the extension's logs.
 */
export async function describeEditorArea(page: Page): Promise<string> {
  const out: string[] = [];
  const safe = async <T>(what: string, f: () => Promise<T>): Promise<void> => {
    try {
      out.push(`${what}: ${JSON.stringify(await f())}`);
    } catch (e) {
      out.push(`${what}: (${(e as Error).message.split('\n')[0]})`);
    }
  };
  await safe('active tab', () => page.locator('.tabs-container .tab.active').allInnerTexts());
  await safe('active editor pane', () =>
    page
      .locator('.editor-group-container.active .editor-container')
      .evaluateAll((els) => els.map((e) => `${e.className} > ${Array.from(e.children, (c) => c.className).join(', ')}: ${(e as HTMLElement).innerText.slice(0, 300)}`)),
  );
  await safe('webview frames', () =>
    page.locator('iframe.webview').evaluateAll((els) =>
      els.map((e) => {
        const r = e.getBoundingClientRect();
        const st = getComputedStyle(e.parentElement ?? e);
        return `${e.className} ${new URL((e as HTMLIFrameElement).src).searchParams.get('extensionId')} at ${r.x},${r.y} ${r.width}x${r.height}, parent ${st.visibility}/${st.display}`;
      }),
    ),
  );
  await safe('notifications', () => page.locator('.notification-list-item').allInnerTexts());
  const problems = consoleProblems.get(page) ?? [];
  out.push(`the console's last ${problems.length} errors and warnings:`, ...problems.map((l) => `  ${l}`));
  const server = servers.get(page);
  if (server) {
    for (const log of findLogs(server.userDataDir, /(^|\/)(remote)?exthost\.log$|\/Checkpoint Explorer\.log$/)) {
      const lines = fs.readFileSync(log, 'utf8').trimEnd().split('\n');
      out.push(`${path.relative(server.userDataDir, log)} (last ${Math.min(lines.length, 30)} of ${lines.length} lines):`, ...lines.slice(-30).map((l) => `  ${l}`));
    }
  }
  return out.join('\n');
}

function extensionActivated(userDataDir: string): boolean {
  return findLogs(userDataDir, /\/Checkpoint Explorer\.log$/).some((f) => fs.readFileSync(f, 'utf8').includes('Checkpoint Explorer activated'));
}

function findLogs(dir: string, name: RegExp, depth = 6): string[] {
  const found: string[] = [];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return found;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && depth > 0) found.push(...findLogs(p, name, depth - 1));
    else if (e.isFile() && e.name.endsWith('.log') && name.test(p)) found.push(p);
  }
  return found;
}

/**
 * Opens a file with a given editor, as `vscode.openWith` does: Quick Open, then "View: Reopen Editor
 * With..." and the editor's display name (e.g. "Text Editor", or a custom editor's displayName).
 */
export async function openWith(page: Page, relPath: string, editorLabel: string, timeout = 15_000): Promise<void> {
  await openFile(page, relPath, timeout);
  await runCommand(page, 'View: Reopen Editor With...', timeout);
  await pickQuickItem(page, editorLabel, timeout);
}

/** The active editor tab, once its label contains `label`. */
export async function activeTab(page: Page, label: string, timeout = 15_000): Promise<Locator> {
  const tab = page.locator('.tabs-container .tab.active', { hasText: label });
  await tab.waitFor({ state: 'visible', timeout });
  return tab;
}

/**
 * A webview's content frame. VS Code nests two iframes: the outer one (class "webview", one per
 * webview, tagged with the owning extension's id in its src) hosts the inner #active-frame, which holds
 * the extension's HTML. With several, the visible one of the given extension is taken.
 */
export function webviewFrame(page: Page, ownerExtensionId: string = extensionId): FrameLocator {
  return webviewHosts(page, ownerExtensionId).first().contentFrame().locator('iframe#active-frame').contentFrame();
}

/** The outer frames of an extension's webviews that are ready and visible. */
function webviewHosts(page: Page, ownerExtensionId: string = extensionId): Locator {
  return page.locator(`iframe.webview.ready[src*="extensionId=${ownerExtensionId}"]`).filter({ visible: true });
}

/** The visible text of a webview's body, once it contains `expect` (a string or a pattern). */
export async function webviewText(page: Page, opts: { extensionId?: string; expect?: string | RegExp; timeout?: number } = {}): Promise<string> {
  const body = webviewFrame(page, opts.extensionId).locator('body');
  const timeout = opts.timeout ?? 15_000;
  await body.waitFor({ state: 'attached', timeout });
  const deadline = Date.now() + timeout;
  for (;;) {
    const text = await body.innerText();
    const ok = opts.expect === undefined ? text.trim().length > 0 : typeof opts.expect === 'string' ? text.includes(opts.expect) : opts.expect.test(text);
    if (ok) return text;
    if (Date.now() > deadline) throw new Error(`webview text never matched ${opts.expect ?? '(non-empty)'}; it is:\n${text}`);
    await page.waitForTimeout(100);
  }
}

/**
 * Opens a view by its name (e.g. "Explorer", "Processes") through "View: Open View...", which is Quick
 * Open with the "view " prefix. Views of extensions are listed once the extension host has registered
 * them, so Quick Open is reopened until the view is there.
 */
export async function openView(page: Page, viewName: string, timeout = 15_000): Promise<void> {
  await pickWhenListed(page, 'Control+P', `view ${viewName}`, viewName, `"View: Open View..." has no view "${viewName}"`, timeout);
  await viewPane(page, viewName).first().waitFor({ state: 'visible', timeout });
}

/**
 * A view's pane, by the view's name: its pane header (when the container shows several views) or the
 * title of the side bar, panel or secondary side bar it fills alone (e.g. "Explorer").
 */
export function viewPane(page: Page, view: string | RegExp): Locator {
  const byHeader = page.locator('.pane', { has: page.locator('.pane-header', { hasText: view }) });
  const byContainer = page
    .locator('.part.sidebar, .part.auxiliarybar, .part.panel')
    .filter({ has: page.locator('.composite.title', { hasText: view }) })
    .locator('.pane');
  return byHeader.or(byContainer);
}

/** A row of a tree view (Explorer, Processes, Image Records...) by the text of its label. */
export function treeItem(page: Page, view: string | RegExp, label: string | RegExp): Locator {
  return viewPane(page, view)
    .locator('.monaco-list-row', { has: page.locator('.label-name, .monaco-highlighted-label', { hasText: label }) })
    .first();
}

/**
 * Waits until an element is shown in full: no animation running on it, inside it, or on what holds
 * it (across shadow roots, as VS Code's menus live in one), and all of those fully opaque.
 */
export async function untilShown(what: string, el: Locator, timeout = 15_000): Promise<void> {
  await until(
    what,
    () =>
      el.evaluate((e) => {
        // (No named functions in here: the bundler's name helper does not exist in the page.)
        if (e.getAnimations({ subtree: true }).some((a) => a.pending || a.playState === 'running')) return false;
        for (let n: Element | null = e; n; n = n.parentElement ?? ((n.getRootNode() as Partial<ShadowRoot>).host || null)) {
          if (n.getAnimations().some((a) => a.pending || a.playState === 'running') || Number(getComputedStyle(n).opacity) < 1) return false;
        }
        return true;
      }),
    timeout,
  );
}

/**
 * Right-clicks a tree item and returns the context menu's entries, in order, without separators. The
 * menu stays open for a screenshot until `close()` (or Escape).
 */
export async function contextMenuOf(page: Page, item: Locator, timeout = 15_000): Promise<{ entries: string[]; close(): Promise<void> }> {
  await item.waitFor({ state: 'visible', timeout });
  await item.click({ button: 'right' });
  // Context menus live in a shadow root; Playwright's CSS engine pierces open shadow roots.
  const menu = page.locator('.context-view .monaco-menu').first();
  await menu.waitFor({ state: 'visible', timeout });
  await untilShown('the context menu to fade in', menu, timeout);
  const labels = await menu.locator('.action-item:not(.disabled) .action-label:not(.separator), .action-item.disabled .action-label:not(.separator)').allInnerTexts();
  return {
    entries: labels.map((l) => l.trim()).filter((l) => l.length > 0),
    close: async () => {
      await page.keyboard.press('Escape');
      await menu.waitFor({ state: 'hidden', timeout }).catch(() => undefined);
    },
  };
}

/**
 * A notification by its text, once it is there: a toast, or else an entry of the notification
 * center, which is opened for it (the headless workbench files progress and messages there).
 */
export async function notification(page: Page, text: string | RegExp, timeout = 15_000): Promise<Locator> {
  const item = page.locator('.notification-list-item', { hasText: text }).first();
  const deadline = Date.now() + timeout;
  // Showing the center closes a quick input: say which one was open, should the notification never come.
  const quickInput = page.locator('.quick-input-widget .quick-input-title').filter({ visible: true });
  const interrupted = (await quickInput.count()) ? ` (a quick input "${await quickInput.first().innerText()}" was open)` : '';
  for (;;) {
    if (await item.isVisible()) return item;
    if (Date.now() > deadline) {
      const shown = await page.locator('.notification-list-item').allInnerTexts();
      throw new Error(`no notification ${text}; shown: ${JSON.stringify(shown)}${interrupted}`);
    }
    if (!(await page.locator('.notifications-center.visible').isVisible())) await runCommand(page, 'Notifications: Show Notifications', timeout);
    await page.waitForTimeout(200);
  }
}

/** Shows an Output channel by name (the Output view's channel picker) and returns its text once it contains `expect`. */
export async function outputChannelText(page: Page, channel: string, expect: string | RegExp, timeout = 20_000): Promise<string> {
  await runCommand(page, 'Output: Focus on Output View', timeout);
  // The view's channel picker: the visible select box in the panel's title while Output is showing.
  const picker = page.locator('.part.panel select.monaco-select-box').filter({ visible: true }).first();
  await picker.waitFor({ state: 'visible', timeout });
  const deadline = Date.now() + timeout;
  while ((await picker.locator('option', { hasText: new RegExp(`^${escapeRegExp(channel)}$`) }).count()) === 0) {
    if (Date.now() > deadline) throw new Error(`the Output view has no channel "${channel}"`);
    await page.waitForTimeout(200);
  }
  await picker.selectOption({ label: channel });
  const lines = page.locator('.part.panel .output-view .view-lines').first();
  await lines.waitFor({ state: 'visible', timeout });
  for (;;) {
    const text = (await lines.innerText()).replace(/\u00a0/g, ' ');
    if (typeof expect === 'string' ? text.includes(expect) : expect.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`Output channel "${channel}" never showed ${expect}; it shows:\n${text}`);
    await page.waitForTimeout(200);
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Filters the Processes view to a PID and returns that process's row, once the filtered tree is drawn
 * (a row of the tree before the filter names an element the view has since dropped). Other rows may
 * match too: the filter is also a substring of command lines, and browsers' are full of numbers.
 */
export async function filterProcessesTo(page: Page, pid: number): Promise<Locator> {
  await runCommand(page, 'Checkpoint Explorer: Filter Processes...');
  const input = page.locator('.quick-input-widget input.input').first();
  await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Filter Processes' }).waitFor({ state: 'visible' });
  await input.fill(String(pid));
  await input.press('Enter');
  const pane = viewPane(page, 'Processes');
  // a row's description is its PID (then " · stopped" for a stopped one)
  const row = pane.locator('.monaco-list-row', { has: page.locator('.label-description', { hasText: new RegExp(`^${pid}(?: ·|$)`) }) });
  const filtered = pane.locator('.pane-header .description', { hasText: `matching "${pid}"` });
  await until(`the Processes view filtered to PID ${pid}`, async () => (await filtered.count()) > 0 && (await row.count()) === 1, 15_000).catch(async (e: Error) => {
    const shown = await pane.locator('.pane-header, .monaco-list-row').allInnerTexts();
    throw new Error(`${e.message}; the view shows ${JSON.stringify(shown)}`);
  });
  return row;
}

/**
 * The context menu of an item once it lists `entry` (the compare entries appear a moment after the
 * extension sets ckptExplorer.compareAvailable). Retrying closes the menu with Escape, which also
 * clears a multi-selection, so only the first try counts for one.
 */
export async function menuWith(page: Page, item: Locator, entry: string, timeout = 20_000): Promise<Awaited<ReturnType<typeof contextMenuOf>>> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const menu = await contextMenuOf(page, item);
    if (menu.entries.includes(entry) || Date.now() > deadline) return menu;
    await menu.close();
    await page.waitForTimeout(500);
  }
}

/** Right-clicks an Explorer item and chooses a context menu entry. */
export async function chooseFromMenu(page: Page, item: Locator, entry: string): Promise<string[]> {
  const menu = await menuWith(page, item, entry);
  assert.ok(menu.entries.includes(entry), `no "${entry}" in ${JSON.stringify(menu.entries)}`);
  await page
    .locator('.context-view .monaco-menu .action-item .action-label', { hasText: new RegExp(`^${entry}$`) })
    .first()
    .click();
  return menu.entries;
}
