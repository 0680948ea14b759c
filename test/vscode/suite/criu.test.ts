// CRIU checkpoints in the real extension host: Open CRIU Checkpoint Folder, an inventory.img and a
// Kubernetes-named archive open in the image editor; the Image Records view shows their files and
// entries; Search Memory finds the fixture's marker at its address; Verify; Compare Checkpoints of
// the two dumps taken a second apart shows exactly the changed page; and a file of a rootfs diff
// opens read-only.

import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { ImageDiff } from '../../../src/image';
import type { VerificationModel } from '../../../src/shared/models';
import type { EditorSearchResult } from '../../../src/webviews/imageEditorProvider';
import { api, closeAllEditors, extensionId, until, workspaceDir } from './support';

const fixtures = () => path.join(vscode.extensions.getExtension(extensionId)!.extensionPath, 'test', 'fixtures', 'criu');

describe('CRIU checkpoints in the editor', function () {
  this.timeout(60_000);
  let dir: string;

  before(async () => {
    await api();
    dir = path.join(workspaceDir(), 'criu');
    fs.mkdirSync(dir, { recursive: true });
    for (const f of ['single', 'leave-running-twice']) fs.cpSync(path.join(fixtures(), f), path.join(dir, f), { recursive: true });
    fs.copyFileSync(path.join(fixtures(), 'podman', 'podman.tar.gz'), path.join(dir, 'checkpoint-pod_default-podfx-2026-12-04T19:14:41Z.tar.zst'));
  });
  after(closeAllEditors);

  it('opens a CRIU folder with Open CRIU Checkpoint Folder, and its records in the Image Records view', async () => {
    const { editors, records } = await api();
    const folder = vscode.Uri.file(path.join(dir, 'single'));
    const r = (await vscode.commands.executeCommand('ckptExplorer.openCriuFolder', folder)) as { ok: boolean; image: vscode.Uri };
    assert.ok(r.ok);
    const doc = await until('the checkpoint in front', () => editors.activeDocument?.uri.fsPath === r.image.fsPath && editors.activeDocument);
    assert.ok(doc.checkpoint, doc.openError);
    assert.strictEqual(doc.checkpoint.format, 'criu');
    const s = await doc.requests!.summary();
    assert.strictEqual(s.processes[0].pid, 28660);
    assert.strictEqual(s.restorable, false);
    const top = await until('the Image Records view shows it', async () => {
      const t = await records.topLevel();
      return t.length > 0 && t;
    });
    assert.deepStrictEqual(
      top.map((n) => n.title),
      ['CORE', 'FDINFO', 'FILES', 'FS', 'IDS', 'INVENTORY', 'MM', 'PAGEMAP', 'PAGES', 'PSTREE', 'SECCOMP', 'STATS', 'TIMENS'],
    );
    const v = (await vscode.commands.executeCommand('ckptExplorer.verify', r.image)) as { ok: boolean; verification: VerificationModel };
    assert.ok(v.ok);
    assert.strictEqual(v.verification.status, 'ok');
    assert.strictEqual(v.verification.pagesChecked, 45);
  });

  it("finds the heap marker through Search Memory, in the editor's webview, at its address", async () => {
    const inventory = vscode.Uri.file(path.join(dir, 'single', 'inventory.img'));
    await vscode.commands.executeCommand('vscode.openWith', inventory, 'ckptExplorer.image');
    const r = (await vscode.commands.executeCommand('ckptExplorer.searchMemory', inventory, { query: { mode: 'text', pattern: 'criu-fixture-marker-0001' }, goToFirst: true })) as {
      ok: boolean;
      search: EditorSearchResult;
    };
    assert.ok(r.ok, JSON.stringify(r));
    assert.strictEqual(r.search.end.status, 'done');
    assert.deepStrictEqual(
      r.search.hits.map((h) => h.address),
      ['0x55b1c78fb2a0', '0x55b1c790b321'],
    );
    assert.strictEqual(r.search.shown.revealed?.cursor, '0x55b1c78fb2a0');
    assert.strictEqual(Buffer.from(r.search.shown.revealed!.bytes).toString(), 'criu-fixture-marker-0001');
  });

  it('opens a Kubernetes-named checkpoint archive in the editor by default, with its container', async () => {
    const { editors } = await api();
    const archive = vscode.Uri.file(path.join(dir, 'checkpoint-pod_default-podfx-2026-12-04T19:14:41Z.tar.zst'));
    await vscode.commands.executeCommand('vscode.open', archive);
    const doc = await until('the archive in its editor', () => editors.activeDocument?.uri.fsPath === archive.fsPath && editors.activeDocument);
    assert.ok(doc.checkpoint, doc.openError);
    const s = await doc.requests!.summary();
    assert.strictEqual(s.container?.name, 'criufix-pod1');
    assert.strictEqual(s.container?.engine, 'Podman');
    assert.deepStrictEqual(
      s.processes.map((p) => [p.pid, p.comm]),
      [[1, 'podfx']],
    );
  });

  it('compares the two dumps of one process taken a second apart: exactly the page it rewrote', async () => {
    const a = vscode.Uri.file(path.join(dir, 'leave-running-twice', 'a', 'inventory.img'));
    const b = vscode.Uri.file(path.join(dir, 'leave-running-twice', 'b', 'inventory.img'));
    const r = (await vscode.commands.executeCommand('ckptExplorer.compare', a, [a, b])) as { ok: true; diff: ImageDiff };
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepStrictEqual(r.diff.counts.pages, { modified: 1, added: 0, removed: 0 });
    const vma = r.diff.nodes[0].children.find((n) => n.kind === 'vma')!;
    assert.deepStrictEqual(vma.pages?.ranges, [{ start: '0x7f8982c15000', end: '0x7f8982c16000', pages: 1, change: 'modified' }]);
  });

  it('opens a file of a rootfs diff read-only', async function () {
    // A real Podman archive with a rootfs diff appended, as `podman container checkpoint` writes one
    // for a container that changed files.
    const tar = path.join(dir, 'with-rootfs.tar');
    fs.copyFileSync(path.join(fixtures(), 'podman', 'podman.tar'), tar);
    const work = fs.mkdtempSync(path.join(dir, 'rootfs-'));
    fs.mkdirSync(path.join(work, 'etc'));
    fs.writeFileSync(path.join(work, 'etc', 'motd'), 'changed inside the container\n');
    const made = spawnSync('sh', ['-c', `tar -C "${work}" -cf "${work}/../rootfs-diff.tar" etc && tar -C "${dir}" -rf "${tar}" rootfs-diff.tar`]);
    if (made.status !== 0) this.skip();
    const { editors } = await api();
    const uri = vscode.Uri.file(tar);
    await vscode.commands.executeCommand('vscode.openWith', uri, 'ckptExplorer.archive');
    const doc = await until('the archive in its editor', () => editors.activeDocument?.uri.fsPath === uri.fsPath && editors.activeDocument);
    const s = await doc.requests!.summary();
    const diff = s.extras.find((x) => x.name === 'rootfs-diff.tar')!;
    assert.ok(diff, JSON.stringify(s.extras));
    const files = await doc.requests!.files({ index: diff.index });
    assert.deepStrictEqual(
      files.files.map((f) => f.path),
      ['etc', 'etc/motd'],
    );
    const opened = (await vscode.commands.executeCommand('ckptExplorer.openCheckpointFile', uri, diff.index, 'etc/motd')) as { ok: boolean; uri: vscode.Uri };
    assert.ok(opened.ok);
    const text = await until('the file in an editor', () => vscode.window.activeTextEditor?.document.uri.toString() === opened.uri.toString() && vscode.window.activeTextEditor);
    assert.strictEqual(text.document.getText(), 'changed inside the container\n');
    // Read-only: its file system takes no writes.
    assert.strictEqual(vscode.workspace.fs.isWritableFileSystem(opened.uri.scheme), false);
    await assert.rejects(Promise.resolve(vscode.workspace.fs.writeFile(opened.uri, Buffer.from('x'))));
  });
});
