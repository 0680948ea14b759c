import * as vscode from 'vscode';

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Checkpoint Explorer', { log: true });
  context.subscriptions.push(log);
  log.info('Checkpoint Explorer activated');
}

export function deactivate(): void {}
