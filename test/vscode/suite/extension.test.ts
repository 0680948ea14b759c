import * as assert from 'assert';
import * as vscode from 'vscode';
import { until } from '../../support/until';

const extensionId = 'ckpt-explorer.ckpt-explorer';
const channelName = 'Checkpoint Explorer';

describe('the extension in a real extension host', () => {
  it('is loaded and activates', async () => {
    const ext = vscode.extensions.getExtension(extensionId);
    assert.ok(ext, `${extensionId} is not among the loaded extensions`);
    await ext.activate();
    assert.strictEqual(ext.isActive, true);
    assert.strictEqual(ext.packageJSON.displayName, 'Checkpoint Explorer');
  });

  it('runs where the processes are: the remote host under code-server, the local one on a desktop', () => {
    // Under code-server the extension host is VS Code's remote Node host, as under Remote-SSH: the web
    // UI, and a remote name that is the server's authority (127.0.0.1:PORT).
    if (process.env.CKPT_TEST_HOST === 'code-server') {
      assert.strictEqual(vscode.env.uiKind, vscode.UIKind.Web);
      assert.match(vscode.env.remoteName ?? '', /^127\.0\.0\.1:\d+$/);
    } else {
      assert.strictEqual(vscode.env.uiKind, vscode.UIKind.Desktop);
      assert.strictEqual(vscode.env.remoteName, undefined);
    }
    assert.strictEqual(process.platform, 'linux');
  });

  it('has its Output channel, which shows the activation line', async () => {
    await vscode.extensions.getExtension(extensionId)!.activate();
    // The workbench registers a "show" command for every Output channel it knows.
    const show = await until(`the Output channel "${channelName}"`, async () =>
      (await vscode.commands.getCommands(true)).find((c) => c.startsWith('workbench.action.output.show.') && c.includes(channelName)),
    );
    await vscode.commands.executeCommand(show);
    const doc = await until('the channel to open as a document', () => vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'output' && d.getText().includes('Checkpoint Explorer activated')));
    assert.match(doc.getText(), /\[info\] Checkpoint Explorer activated/);
  });
});
