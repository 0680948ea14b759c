import * as vscode from 'vscode';
import { checkpointingUnavailable } from './checkpointer';
import { registerCommands } from './commands';
import { ProcessesView } from './views/processesView';
import { RecordsView } from './views/recordsView';
import { ComparePanels } from './webviews/comparePanels';
import { ImageEditorProvider } from './webviews/imageEditorProvider';

/** What activate() returns: the live views and editors, for the integration tests to look at. */
export interface CheckpointExplorerApi {
  editors: ImageEditorProvider;
  compares: ComparePanels;
  records: RecordsView;
  processes: ProcessesView;
  log: vscode.LogOutputChannel;
}

export function activate(context: vscode.ExtensionContext): CheckpointExplorerApi {
  const log = vscode.window.createOutputChannel('Checkpoint Explorer', { log: true });
  context.subscriptions.push(log);
  const editors = ImageEditorProvider.register(context, log);
  const compares = ComparePanels.register(context, log, editors);
  const records = new RecordsView(editors);
  const processes = new ProcessesView();
  context.subscriptions.push(records, processes);
  registerCommands({ context, log, editors, compares, processes, records });
  log.info('Checkpoint Explorer activated');
  const unavailable = checkpointingUnavailable();
  if (unavailable) log.warn(unavailable);
  return { editors, compares, records, processes, log };
}

export function deactivate(): void {}
