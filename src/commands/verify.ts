// Verify an image in full: every header and metadata checksum, the tail, the record tree, and the
// hash of every page, with progress and Cancel. An image open in an editor is verified there (its
// damaged records are then marked in the editor and the Image Records view).

import * as path from 'path';
import * as vscode from 'vscode';
import { openCheckpoint } from '../checkpoint';
import { formatBytes } from '../image';
import type { VerificationModel } from '../shared/models';
import { problemModel } from '../webviews/imageRequests';
import { fail, Outcome, Services, targetImage } from './services';
import { plural } from '../shared/plural';

export async function verifyCommand(s: Services, arg: unknown): Promise<Outcome<{ verification: VerificationModel }> | undefined> {
  const uri = await targetImage(s, arg, 'Verify');
  if (!uri) return undefined;
  const name = path.basename(uri.fsPath);
  try {
    const v = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Verifying ${name}`, cancellable: true }, async (progress, token) => {
      let reported = 0;
      const onProgress = (done: number, total: number) => {
        const pct = total > 0 ? (done / total) * 100 : 0;
        if (pct > reported) {
          progress.report({ increment: pct - reported, message: `${formatBytes(done)} of ${formatBytes(total)} of page data` });
          reported = pct;
        }
      };
      const doc = s.editors.documentFor(uri);
      if (doc?.checkpoint) return doc.verify(onProgress, token);
      return verifyClosed(uri.fsPath, onProgress, token, s.editors.cacheDir);
    });
    report(s, name, v);
    if (v.status === 'failed') return { ok: false, error: v.error ?? 'verification failed' };
    return { ok: true, verification: v };
  } catch (e) {
    return fail(s, e, `Verification of ${uri.fsPath}`);
  }
}

async function verifyClosed(file: string, onProgress: (done: number, total: number) => void, token: vscode.CancellationToken, cacheDir?: string): Promise<VerificationModel> {
  const img = await openCheckpoint(file, { cache: cacheDir ? { dir: cacheDir } : undefined });
  const abort = new AbortController();
  const sub = token.onCancellationRequested(() => abort.abort());
  try {
    const r = await img.verify({ signal: abort.signal, onProgress: (p) => onProgress(p.done, p.total) });
    return { status: r.ok ? 'ok' : 'damaged', problems: r.problems.map(problemModel), pagesChecked: r.pagesChecked, bytesChecked: r.bytesChecked, ms: r.ms };
  } catch (e) {
    if (abort.signal.aborted) return { status: 'cancelled', problems: img.problems.map(problemModel) };
    throw e;
  } finally {
    sub.dispose();
    await img.close();
  }
}

function report(s: Services, name: string, v: VerificationModel): void {
  const errors = v.problems.filter((p) => p.severity === 'error');
  switch (v.status) {
    case 'ok':
      s.log.info(`Verified ${name}: sound; ${plural(v.pagesChecked ?? 0, 'page')} (${formatBytes(v.bytesChecked ?? 0)}) checked in ${v.ms} ms`);
      void vscode.window.showInformationMessage(`${name} is sound: ${plural(v.pagesChecked ?? 0, 'page')} checked, no problem found.`);
      break;
    case 'damaged':
      s.log.warn(`Verified ${name}: ${errors.length} problem${errors.length === 1 ? '' : 's'}`);
      for (const p of v.problems) s.log.warn(`  ${p.severity}: ${p.message}`);
      void vscode.window.showWarningMessage(`${name} is damaged: ${errors.length} problem${errors.length === 1 ? '' : 's'}. ${errors[0]?.message ?? ''}`, 'Show Log').then((c) => {
        if (c) s.log.show(true);
      });
      break;
    case 'cancelled':
      s.log.info(`Verification of ${name} cancelled`);
      break;
    case 'failed':
      s.log.error(`Verification of ${name} failed: ${v.error}`);
      void vscode.window.showErrorMessage(`Verification of ${name} failed: ${v.error}`, 'Show Log').then((c) => {
        if (c) s.log.show(true);
      });
      break;
    case 'running':
    case 'unverified':
      break; // not an outcome: report() is given finished verifications only
  }
}
