// The extension's commands, by id. Each returns an Outcome (or undefined when the user backed out
// of a picker), so that tests and other commands can tell how it went; failures have already been
// shown to the user with a "Show Log" button.

import * as vscode from 'vscode';
import { checkpointCommand } from './checkpoint';
import { DebugArgs, debugCheckpointCommand } from './debug';
import { compareCommand, compareWithSelectedCommand, selectForCompareCommand } from './compare';
import { MEMBER_SCHEME, MemberFiles, openCheckpointFileCommand, openCriuFolderCommand } from './criu';
import { openImageCommand, revealInRecordsCommand } from './images';
import { restoreCommand } from './restore';
import { searchMemoryCommand, SearchMemoryArgs } from './search';
import { Services } from './services';
import { verifyCommand } from './verify';

export const COMMANDS = {
  checkpoint: 'ckptExplorer.checkpoint',
  checkpointLeaveRunning: 'ckptExplorer.checkpointLeaveRunning',
  checkpointAndStop: 'ckptExplorer.checkpointAndStop',
  checkpointProcessOnly: 'ckptExplorer.checkpointProcessOnly',
  restore: 'ckptExplorer.restore',
  debugCheckpoint: 'ckptExplorer.debugCheckpoint',
  verify: 'ckptExplorer.verify',
  revealInRecords: 'ckptExplorer.revealInRecords',
  openImage: 'ckptExplorer.openImage',
  refreshProcesses: 'ckptExplorer.refreshProcesses',
  filterProcesses: 'ckptExplorer.filterProcesses',
  clearProcessFilter: 'ckptExplorer.clearProcessFilter',
  showAllProcesses: 'ckptExplorer.showAllProcesses',
  showOwnProcesses: 'ckptExplorer.showOwnProcesses',
  searchMemory: 'ckptExplorer.searchMemory',
  openCriuFolder: 'ckptExplorer.openCriuFolder',
  openCheckpointFile: 'ckptExplorer.openCheckpointFile',
} as const;

/**
 * Comparing images: contributed in package.json, in the Explorer's and the editor's menus, behind
 * the context key ckptExplorer.compareAvailable, which is set once they are registered.
 */
export const COMPARE_COMMANDS = {
  compare: 'ckptExplorer.compare',
  selectForCompare: 'ckptExplorer.selectForCompare',
  compareWithSelected: 'ckptExplorer.compareWithSelected',
} as const;

export function registerCommands(s: Services): void {
  const reg = (id: string, fn: (...args: unknown[]) => unknown) => s.context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  // A process with children is taken with its descendants, after a question that {confirm: false} skips.
  reg(COMMANDS.checkpoint, (arg, opts) => checkpointCommand(s, arg, undefined, 'tree', opts));
  reg(COMMANDS.checkpointLeaveRunning, (arg, opts) => checkpointCommand(s, arg, 'leaveRunning', 'tree', opts));
  reg(COMMANDS.checkpointAndStop, (arg, opts) => checkpointCommand(s, arg, 'stop', 'tree', opts));
  reg(COMMANDS.checkpointProcessOnly, (arg) => checkpointCommand(s, arg, undefined, 'process'));
  reg(COMMANDS.restore, (arg) => restoreCommand(s, arg));
  reg(COMMANDS.debugCheckpoint, (arg, args) => debugCheckpointCommand(s, arg, args as DebugArgs | undefined));
  reg(COMMANDS.verify, (arg) => verifyCommand(s, arg));
  reg(COMMANDS.revealInRecords, (arg) => revealInRecordsCommand(s, arg));
  reg(COMMANDS.openImage, (arg) => openImageCommand(s, arg));
  reg(COMMANDS.refreshProcesses, () => s.processes.refresh());
  reg(COMMANDS.filterProcesses, async (arg) => {
    const text =
      typeof arg === 'string' ? arg : await vscode.window.showInputBox({ title: 'Filter Processes', prompt: 'Show processes whose name, command line or PID contains', value: s.processes.filterText });
    if (text !== undefined) await s.processes.setFilter(text);
  });
  reg(COMMANDS.clearProcessFilter, () => s.processes.setFilter(''));
  reg(COMMANDS.showAllProcesses, () => s.processes.setShowAll(true));
  reg(COMMANDS.showOwnProcesses, () => s.processes.setShowAll(false));
  reg(COMMANDS.searchMemory, (arg, args) => searchMemoryCommand(s, arg, args as SearchMemoryArgs | undefined));
  reg(COMMANDS.openCriuFolder, (arg) => openCriuFolderCommand(s, arg));
  reg(COMMANDS.openCheckpointFile, (uri, index, file) => openCheckpointFileCommand(s, uri, index, file));
  s.context.subscriptions.push(vscode.workspace.registerFileSystemProvider(MEMBER_SCHEME, new MemberFiles(s), { isReadonly: true, isCaseSensitive: true }));
  reg(COMPARE_COMMANDS.compare, (arg, all) => compareCommand(s, arg, all));
  reg(COMPARE_COMMANDS.selectForCompare, (arg) => selectForCompareCommand(s, arg));
  reg(COMPARE_COMMANDS.compareWithSelected, (arg) => compareWithSelectedCommand(s, arg));
  void vscode.commands.executeCommand('setContext', 'ckptExplorer.compareAvailable', true);
}
