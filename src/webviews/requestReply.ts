// Both editors answer their webview the same way: the handler's result, or its failure as an error
// reply and a log line. A request never goes unanswered, and a failure never escapes the host.

import type * as vscode from 'vscode';
import type { ResponseMessage } from '../shared/protocol';

export async function replyTo(request: { id: number; method: string }, handle: () => Promise<unknown>, log: vscode.LogOutputChannel, what: string): Promise<ResponseMessage> {
  try {
    return { type: 'response', id: request.id, ok: true, result: await handle() };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    log.warn(`${what} ${request.method} failed: ${message}`);
    return { type: 'response', id: request.id, ok: false, error: message };
  }
}
