import * as vscode from 'vscode';
import { registerCommands } from './commands';
import { ProcessesView } from './views/processesView';
import { RecordsView } from './views/recordsView';
import { ImageEditorProvider } from './webviews/imageEditorProvider';

/** What activate() returns: the live views and editors, for the integration tests to look at. */
export interface CheckpointExplorerApi {
  editors: ImageEditorProvider;
  records: RecordsView;
  processes: ProcessesView;
  log: vscode.LogOutputChannel;
}

export function activate(context: vscode.ExtensionContext): CheckpointExplorerApi {
  const log = vscode.window.createOutputChannel('Checkpoint Explorer', { log: true });
  context.subscriptions.push(log);
  const editors = ImageEditorProvider.register(context, log);
  const records = new RecordsView(editors);
  const processes = new ProcessesView();
  context.subscriptions.push(records, processes);
  registerCommands({ context, log, editors, processes, records });
  log.info('Checkpoint Explorer activated');
  return { editors, records, processes, log };
}

export function deactivate(): void {}
