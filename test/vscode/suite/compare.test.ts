// Comparing images in the real extension host: two checkpoints of a live process (the native
// checkpointer's, while the process rewrote one known page) compared from an Explorer selection,
// the compare editor it opens, and exactly that change; Select Checkpoint for Compare and Compare
// with Selected Checkpoint; images without page hashes; what is refused.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { DiffNode, ImageDiff } from '../../../src/image';
import { makeRealPair, RealPair, RICH, writeRichPair } from '../../support/imagePairs';
import { api, closeAllEditors, nativeBinary, until, workspaceDir } from './support';

type CompareOutcome = { ok: true; a: vscode.Uri; b: vscode.Uri; panel: vscode.WebviewPanel; diff: ImageDiff } | { ok: false; error: string; kind?: string };

const hex = (v: bigint) => `0x${v.toString(16)}`;

/** Every node, field and page range of a diff, one string each, as a tree. */
function outline(nodes: DiffNode[]): unknown[] {
  return nodes.map((n) => ({ [`${n.change} ${n.kind} ${n.key}`]: [...n.fields.map((f) => f.path), ...(n.pages?.ranges.map((r) => `${r.change} ${r.start}-${r.end}`) ?? []), ...outline(n.children)] }));
}

/** The compare editor in front, if any. */
function activeCompareTab(): vscode.Tab | undefined {
  const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
  return tab?.input instanceof vscode.TabInputWebview && tab.input.viewType.endsWith('ckptExplorer.compare') ? tab : undefined;
}

describe('comparing images', function () {
  this.timeout(60_000);
  let real: RealPair | undefined;
  let rich: [vscode.Uri, vscode.Uri];

  before(async () => {
    await api();
    const bin = nativeBinary();
    if (bin) real = await makeRealPair(workspaceDir(), bin);
    rich = writeRichPair(workspaceDir()).map((f) => vscode.Uri.file(f)) as [vscode.Uri, vscode.Uri];
  });
  after(closeAllEditors);

  it('compares two checkpoints selected in the Explorer: the compare editor opens, and the diff is exactly the page the process rewrote', async function () {
    if (!real) this.skip();
    const first = vscode.Uri.file(real!.first),
      changed = vscode.Uri.file(real!.changed);
    // As the Explorer passes a multi-selection: the clicked file, then all selected (here the later one first).
    const r = (await vscode.commands.executeCommand('ckptExplorer.compare', changed, [changed, first])) as CompareOutcome;
    assert.ok(r.ok, JSON.stringify(r));
    assert.strictEqual(r.a.fsPath, first.fsPath, 'the earlier checkpoint is on the left');
    assert.strictEqual(r.b.fsPath, changed.fsPath);
    await until('its compare editor in front', () => activeCompareTab()?.label === 'first.ckpt ↔ changed.ckpt');
    const { buffer, map, page } = real!.planted;
    const mapVma = r.diff.nodes[0]?.children[0]?.key ?? '';
    assert.ok(BigInt(mapVma.split('-')[0]) <= map, mapVma);
    assert.deepStrictEqual(outline(r.diff.nodes), [{ [`changed process ${real!.pid}`]: [{ [`changed vma ${mapVma}`]: [`modified ${hex(buffer)}-${hex(buffer + BigInt(page))}`] }] }]);
    assert.deepStrictEqual(r.diff.counts.pages, { modified: 1, added: 0, removed: 0 });
    assert.strictEqual(r.diff.pageMethod, 'hashes');
    assert.strictEqual(r.diff.stats.bytesRead, 0);
    // The webview asked for the overview and the tree, and opened the VMA it starts at.
    const { compares } = await api();
    const entry = compares.open.find((e) => e.panel === r.panel)!;
    await until('the webview to ask for the tree and the first difference', () => (entry.session.served.get('children') ?? 0) >= 1 && (entry.session.served.get('node') ?? 0) >= 1);
    assert.ok((entry.session.served.get('overview') ?? 0) >= 1);
  });

  it('shows the open comparison of the same pair instead of opening another', async function () {
    if (!real) this.skip();
    const { compares } = await api();
    const before = compares.open.length;
    const r = (await vscode.commands.executeCommand('ckptExplorer.compare', vscode.Uri.file(real!.first), [vscode.Uri.file(real!.first), vscode.Uri.file(real!.changed)])) as CompareOutcome;
    assert.ok(r.ok);
    assert.strictEqual(compares.open.length, before);
  });

  it('compares with Select Checkpoint for Compare, then Compare with Selected Checkpoint (the selected one on the left)', async () => {
    const { compares } = await api();
    const [a, b] = rich;
    // B first: the selection decides the order, not the time.
    const sel = (await vscode.commands.executeCommand('ckptExplorer.selectForCompare', b)) as { ok: boolean; selected: vscode.Uri };
    assert.ok(sel.ok);
    assert.strictEqual(compares.selected?.fsPath, b.fsPath);
    const r = (await vscode.commands.executeCommand('ckptExplorer.compareWithSelected', a)) as CompareOutcome;
    assert.ok(r.ok, JSON.stringify(r));
    assert.strictEqual(r.a.fsPath, b.fsPath);
    assert.strictEqual(r.b.fsPath, a.fsPath);
    await until('its compare editor in front', () => activeCompareTab()?.label === 'rich-b.ckpt ↔ rich-a.ckpt');
    const c = r.diff.counts;
    assert.deepStrictEqual(
      [c.byKind.thread, c.byKind.vma, c.byKind.fd],
      [
        { added: 0, removed: 0, changed: 1 },
        { added: 0, removed: 1, changed: 1 },
        { added: 0, removed: 0, changed: 1 },
      ],
    );
    assert.deepStrictEqual(c.pages, { modified: 1, added: 0, removed: 1 });
    const worker = r.diff.nodes[0].children.find((n) => n.kind === 'thread')!;
    assert.strictEqual(worker.key, String(RICH.worker));
    assert.deepStrictEqual(
      worker.registers!.filter((x) => x.changed).map((x) => [x.name, x.a, x.b]),
      [['rip', RICH.workerRip.b, RICH.workerRip.a]],
    );
  });

  it('compares images without page hashes by reading their pages', async () => {
    const [fa, fb] = writeRichPair(workspaceDir(), ['plain-a.ckpt', 'plain-b.ckpt'], { hashed: false });
    const r = (await vscode.commands.executeCommand('ckptExplorer.compare', [vscode.Uri.file(fa), vscode.Uri.file(fb)])) as CompareOutcome;
    assert.ok(r.ok, JSON.stringify(r));
    assert.strictEqual(r.diff.pageMethod, 'bytes');
    assert.ok(r.diff.stats.bytesRead > 0);
    assert.deepStrictEqual(r.diff.counts.pages, { modified: 1, added: 1, removed: 0 });
  });

  it('closing the compare editor lets go of its images', async () => {
    const { compares } = await api();
    const entry = compares.open[compares.open.length - 1];
    entry.panel.dispose();
    await until('the comparison to be gone', () => !compares.open.includes(entry));
  });

  it('refuses three images, and a file that is not an image, saying why', async () => {
    const { compares } = await api();
    const before = compares.open.length;
    const three = (await vscode.commands.executeCommand('ckptExplorer.compare', rich[0], [rich[0], rich[1], rich[0]])) as CompareOutcome;
    assert.strictEqual(three.ok, false);
    assert.match((three as { error: string }).error, /compares two images; 3 are selected/);
    const notes = path.join(workspaceDir(), 'compare-notes.ckpt');
    fs.writeFileSync(notes, 'these are notes, not a checkpoint image, long enough to hold a header');
    const bad = (await vscode.commands.executeCommand('ckptExplorer.compare', rich[0], [rich[0], vscode.Uri.file(notes)])) as CompareOutcome;
    assert.strictEqual(bad.ok, false);
    assert.match((bad as { error: string }).error, /^compare-notes\.ckpt: .*not a ckpt image/);
    assert.strictEqual(compares.open.length, before, 'no compare editor for them');
  });
});
