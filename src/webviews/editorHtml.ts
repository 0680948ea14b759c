// The webview's page: a strict Content-Security-Policy (nothing by default; our own stylesheet,
// and only the one script carrying this page's nonce), no remote resources, no inline styles.
// The page holds no image data; the script asks for it.

import { randomBytes } from 'crypto';
import * as vscode from 'vscode';

export interface EditorPage {
  nonce: string;
  html: string;
}

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  // No images, fonts, frames or connections: the page needs nothing but its stylesheet and script.
  return ["default-src 'none'", `style-src ${cspSource}`, `script-src 'nonce-${nonce}'`].join('; ');
}

/** The page of a webview: the image editor's (editor.js, the default) or the compare editor's (compare.js). */
export function editorPage(webview: vscode.Webview, extensionUri: vscode.Uri, opts: { title: string; error?: string; script?: 'editor.js' | 'compare.js' }): EditorPage {
  const nonce = randomBytes(18).toString('base64');
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', opts.script ?? 'editor.js'));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'editor.css'));
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttr(contentSecurityPolicy(webview.cspSource, nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeAttr(style.toString())}">
<title>${escapeAttr(opts.title)}</title>
</head>
<body>
<div id="app"${opts.error ? ` data-error="${escapeAttr(opts.error)}"` : ''}></div>
<script nonce="${nonce}" src="${escapeAttr(script.toString())}"></script>
</body>
</html>`;
  return { nonce, html };
}
