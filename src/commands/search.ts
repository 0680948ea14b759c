// Search Memory: the search pane of an image's editor. Without a query it opens the pane and focuses
// its box; with one (from another command or a test) it searches as if the query had been typed,
// through the editor's webview, and answers with the hits once the search has ended.

import * as vscode from 'vscode';
import type { SearchQueryModel } from '../shared/models';
import type { EditorSearchResult } from '../webviews/imageEditorProvider';
import { fail, Outcome, Services, targetImage } from './services';

export interface SearchMemoryArgs {
  query: SearchQueryModel;
  maxHits?: number;
  /** Show the first hit in the memory view when the search ends. */
  goToFirst?: boolean;
}

export async function searchMemoryCommand(s: Services, arg: unknown, args?: SearchMemoryArgs): Promise<Outcome<{ search?: EditorSearchResult }> | undefined> {
  const uri = await targetImage(s, arg, 'Search Memory');
  if (!uri) return undefined;
  try {
    const doc = s.editors.documentFor(uri) ?? (await s.editors.showRecord(uri, undefined));
    if (!doc) throw new Error(`${uri.fsPath} did not open in the image editor`);
    if (!doc.checkpoint) throw new Error(doc.openError ?? `${uri.fsPath} is not an image`);
    if (!args?.query) {
      await s.editors.showSearch(doc);
      return { ok: true };
    }
    const search = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Searching memory', cancellable: true }, (_p, token) =>
      s.editors.searchInEditor(doc, args.query, { maxHits: args.maxHits, goToFirst: args.goToFirst, token }),
    );
    return { ok: true, search };
  } catch (e) {
    return fail(s, e, `Search of ${uri.fsPath}`);
  }
}
