// CRIU checkpoints as a person sees them, in code-server and headless Chromium: every real fixture
// (a single process, threads, a process tree, the two dumps of one process, and Podman's archive
// plain, zstd and gzip) opens in the image editor with its process tree, threads with registers,
// memory map, and the marker strings found by the memory search at their addresses; a container
// archive shows its container, its log and its engine's files; CRIU's log shows its errors. A
// screenshot of each.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { FrameLocator, Page } from 'playwright-core';
import { ensureBuilt } from '../../scripts/vscode-host/build';
import { tempFolder } from '../../scripts/vscode-host/cleanup';
import { criuFixture, MARKERS } from '../support/criuFixtures';
import { openFile, openWith, runCommand, webviewFrame, webviewText, Workbench, openWorkbench, screenshotFailures } from './workbench';

const hex = (v: bigint) => `0x${v.toString(16)}`;

interface Fixture {
  /** How it is opened: a file in the workspace, opened by Quick Open or with the archive editor. */
  open: string;
  with?: string;
  shot: string;
  pid: number;
  comm: string;
  threads: string[];
  /** A string in memory and where it must be found. */
  marker: { text: string; addr: bigint };
  processes?: number;
}

const FIXTURES: Fixture[] = [
  { open: 'single/inventory.img', shot: 'criu-single', pid: 28660, comm: 'single', threads: ['28660 single'], marker: { text: MARKERS.single.text, addr: MARKERS.single.addr } },
  {
    open: 'threads/inventory.img',
    shot: 'criu-threads',
    pid: 28701,
    comm: 'fx-thr-main',
    threads: ['28701 fx-thr-main', '28704 fx-worker-0', '28705 fx-worker-1', '28706 fx-worker-2', '28707 fx-worker-3'],
    marker: { text: MARKERS.threads.text, addr: MARKERS.threads.addr },
  },
  { open: 'tree/inventory.img', shot: 'criu-tree', pid: 28777, comm: 'fx-tree-parent', threads: ['28777 fx-tree-parent'], marker: { text: MARKERS.tree.text, addr: MARKERS.tree.addr }, processes: 3 },
  { open: 'leave-running-twice/a/inventory.img', shot: 'criu-lrt-a', pid: 28897, comm: 'lrt', threads: ['28897 lrt'], marker: { text: 'criu-fixture-lrt page=3 gen=1', addr: MARKERS.lrt.page } },
  { open: 'leave-running-twice/b/inventory.img', shot: 'criu-lrt-b', pid: 28897, comm: 'lrt', threads: ['28897 lrt'], marker: { text: 'criu-fixture-lrt page=3 gen=2', addr: MARKERS.lrt.page } },
  {
    open: 'podman.tar',
    with: 'Checkpoint Archive (Podman, CRI-O, Kubernetes)',
    shot: 'criu-podman-tar',
    pid: 1,
    comm: 'podfx',
    threads: ['1 podfx'],
    marker: { text: MARKERS.podman.text, addr: MARKERS.podman['podman.tar'] },
  },
  {
    open: 'checkpoint-criufix-pod1_default-podfx-2026-12-04T19:14:41.tar.zst',
    shot: 'criu-podman-zstd',
    pid: 1,
    comm: 'podfx',
    threads: ['1 podfx'],
    marker: { text: MARKERS.podman.text, addr: MARKERS.podman['podman.tar.gz'] },
  },
  {
    open: 'checkpoint-criufix-pod3_default-podfx-2026-12-04T19:15:20.tar.gz',
    shot: 'criu-podman-gzip',
    pid: 1,
    comm: 'podfx',
    threads: ['1 podfx'],
    marker: { text: MARKERS.podman.text, addr: MARKERS.podman['podman-gzip.tar.gz'] },
  },
];

async function searchMemory(frame: FrameLocator, pattern: string): Promise<void> {
  await frame.locator('.pane-tab', { hasText: /^Search memory$/ }).click();
  await frame.locator('label.opt', { hasText: 'Text' }).locator('input').check();
  const input = frame.locator('.search-input');
  await input.fill(pattern);
  await input.press('Enter');
}

async function openFixture(page: Page, f: Fixture): Promise<FrameLocator> {
  await runCommand(page, 'View: Close All Editors');
  if (f.with) await openWith(page, f.open, f.with);
  else await openFile(page, f.open);
  await webviewText(page, { expect: new RegExp(`${f.comm}\\s+pid ${f.pid}`), timeout: 60_000 });
  return webviewFrame(page);
}

describe('CRIU checkpoints in the editor, in the browser', function () {
  this.timeout(180_000);
  let wb: Workbench | undefined;
  let folder: string;
  let removeFolder = (): void => undefined;

  before(async () => {
    ensureBuilt();
    ({ path: folder, remove: removeFolder } = tempFolder('ckpt-browser-criu-'));
    for (const f of ['single', 'threads', 'tree', 'leave-running-twice']) fs.cpSync(criuFixture(f), path.join(folder, f), { recursive: true });
    // CRIU writes its log beside the images unless told otherwise (these were told otherwise).
    fs.copyFileSync(criuFixture('logs', 'single-dump.log'), path.join(folder, 'single', 'dump.log'));
    fs.copyFileSync(criuFixture('podman', 'podman.tar'), path.join(folder, 'podman.tar'));
    // The names kubelet gives checkpoint archives; the contents as Podman wrote them (zstd, gzip).
    fs.copyFileSync(criuFixture('podman', 'podman.tar.gz'), path.join(folder, FIXTURES[6].open));
    fs.copyFileSync(criuFixture('podman', 'podman-gzip.tar.gz'), path.join(folder, FIXTURES[7].open));
    wb = await openWorkbench({ folder });
  });

  screenshotFailures(() => wb);

  after(async () => {
    await wb?.close();
    removeFolder();
  });

  for (const f of FIXTURES) {
    it(`${f.open}: the process tree, threads with registers, memory map, and the marker at its address`, async () => {
      const page = wb!.page;
      const frame = await openFixture(page, f);
      const text = await webviewText(page);
      assert.match(text, new RegExp(`Taken\\b`));
      if (f.processes) {
        const tree = frame.locator('.proc-tree').first();
        assert.deepStrictEqual(
          (await tree.locator(':scope > li > button').allInnerTexts()).map((t) => t.trim()),
          [`${f.pid} ${f.comm}`],
          'the root',
        );
        assert.strictEqual(await tree.locator('li li').count(), f.processes - 1, 'its children under it');
      }
      // The process: its threads, each with its registers.
      // The editor opens at the first process: its pstree entry, in its process view.
      await frame.locator('.tree-row.selected', { has: frame.locator('.badge', { hasText: /^PSTREE$/ }), hasText: `pid ${f.pid} (` }).waitFor({ state: 'visible' });
      await frame.locator('.tab[aria-selected="true"]', { hasText: /^Process$/ }).waitFor({ state: 'visible' });
      const threads = frame.locator('.pv-thread');
      await threads.first().waitFor({ state: 'visible' });
      assert.deepStrictEqual(
        (await threads.allInnerTexts()).map((t) => t.replace(/"/g, '').trim()),
        f.threads,
      );
      assert.match(await frame.locator('.pv-regs').first().innerText(), /rip\s+0x[0-9a-f]+/);
      assert.match(await frame.locator('.process-view').innerText(), /Files and descriptors/);
      console.log(`    ${await wb!.screenshot(`${f.shot}-process`)}`);
      // Its memory map, to scale.
      await frame.locator('.tab', { hasText: /^Address space$/ }).click();
      await frame.locator('.as-vma').first().waitFor({ state: 'visible' });
      assert.match(await frame.locator('.as-heading').innerText(), /\d+ VMAs, .* mapped, .* dumped/);
      // The marker, found by the search and shown in memory at its address.
      await searchMemory(frame, f.marker.text);
      const hit = frame.locator('.hit', { has: frame.locator('.hit-addr', { hasText: new RegExp(`^${hex(f.marker.addr)}$`) }) }).first();
      await hit.waitFor({ state: 'visible', timeout: 30_000 });
      await hit.click();
      await frame.locator('.tab[aria-selected="true"]', { hasText: 'Memory' }).waitFor({ state: 'visible' });
      await frame.locator('.memory-pane .b.hl').first().waitFor({ state: 'visible', timeout: 15_000 });
      console.log(`    ${await wb!.screenshot(f.shot)}`);
    });
  }

  it("a tree: child2's socket with its 26 queued bytes, and the pipe holding 28", async () => {
    const page = wb!.page;
    const frame = await openFixture(page, FIXTURES[2]);
    await frame.locator('.proc-tree button', { hasText: '28782 fx-tree-child2' }).click();
    const view = frame.locator('.process-view');
    // the parent has a socket too: wait for child2's view, not for any Sockets heading
    const shown = async (re: RegExp) => {
      for (const deadline = Date.now() + 15_000; !re.test(await view.innerText());) {
        if (Date.now() > deadline) throw new Error(`the process view never showed ${re}: ${await view.innerText()}`);
        await page.waitForTimeout(100);
      }
    };
    await shown(/fx-tree-child2\s+pid 28782[\s\S]*Sockets/);
    const text = await view.innerText();
    assert.match(text, /unix\s+stream\s+established\s+ino 380837\s+peer ino 380836\s+26 bytes/);
    await frame.locator('.proc-tree button', { hasText: '28777 fx-tree-parent' }).click();
    await shown(/fx-tree-parent\s+pid 28777[\s\S]*pipe:\[380834\]/);
    assert.match(await view.innerText(), /pipe:\[380834\].*read end, 28 bytes buffered/);
    console.log(`    ${await wb!.screenshot('criu-tree-sockets')}`);
  });

  it("a container archive: the container, its command and environment, its log and its engine's files", async () => {
    const page = wb!.page;
    const frame = await openFixture(page, FIXTURES[6]);
    const text = await webviewText(page);
    for (const fact of [/Container\s+criufix-pod1 \(Podman, runc\)/, /Image\s+localhost\/criufix-podfx:latest/, /Command\s+\/bin\/podfx in \//, /Environment\s+4 variables/]) assert.match(text, fact);
    console.log(`    ${await wb!.screenshot('criu-container')}`);
    await frame.locator('.extras button', { hasText: /^ctr\.log$/ }).click();
    await frame.locator('.log-line').first().waitFor({ state: 'visible' });
    assert.match(await frame.locator('.log-lines').innerText(), /stdout F pid=1 marker=0x33fc56d0 "criu-fixture-marker-podman"/);
    await frame.locator('.extras button', { hasText: /^spec\.dump$/ }).click();
    await frame.locator('.member-text').waitFor({ state: 'visible' });
    assert.match(await frame.locator('.member-text').innerText(), /"ociVersion": "1\.0\.2-dev"/);
    console.log(`    ${await wb!.screenshot('criu-container-spec')}`);
  });

  it("CRIU's log, with its error and its warning marked", async () => {
    const page = wb!.page;
    const frame = await openFixture(page, FIXTURES[0]);
    await frame.locator('.extras button', { hasText: /^dump\.log$/ }).click();
    await frame.locator('.log-line.error').first().waitFor({ state: 'visible' });
    assert.match(await frame.locator('.member-title').innerText(), /1 error, 1 warning/);
    assert.match(await frame.locator('.log-line.error').innerText(), /Error \(criu\/util\.c:1534\): rlimit: Can't setup RLIMIT_NOFILE/);
    await frame.locator('.member-title button', { hasText: /^Next$/ }).click();
    await frame.locator('.log-line.current.error').waitFor({ state: 'visible' });
    console.log(`    ${await wb!.screenshot('criu-log')}`);
  });
});
