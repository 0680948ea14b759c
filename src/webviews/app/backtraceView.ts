// A thread's backtrace: one row per frame (number, address, function+offset, file mapped, source
// line), and a last line that says why the walk ended. A frame with a source line opens it when
// clicked. The section loads its backtrace the first time it is open, so a process with many
// threads unwinds only the ones looked at. Every name and path is text from files and the image,
// set as text.

import type { BacktraceModel, FrameModel } from '../../shared/models';
import { clear, h } from './dom';

/** Threads whose backtrace is open (and so computed) as soon as the process is shown. */
export const OPEN_BACKTRACES = 8;

const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1) || p;

function stopText(b: BacktraceModel): string {
  return b.stop.reason === 'outermost' ? `end of the stack: ${b.stop.message}` : `cannot unwind further: ${b.stop.message}`;
}

function frameRow(f: FrameModel, onOpen?: (frame: number) => void): HTMLElement {
  const fn = f.function ? `${f.function}+${f.offset ?? 0}` : '??';
  let src: Node | string = '';
  if (f.file && f.line) {
    const label = `${baseName(f.file)}:${f.line}`;
    // A path relative to an unknown build directory (libc's "./time/...") cannot be opened.
    if (onOpen && f.file.startsWith('/')) {
      const b = h('button', { type: 'button', class: 'link bt-source', title: `Open ${f.file} at line ${f.line}` }, label);
      b.addEventListener('click', () => onOpen(f.index));
      src = b;
    } else src = h('span', { class: 'bt-source-text', title: f.file }, label);
  }
  const how = f.method === 'frame-pointer' ? ' (frame pointer)' : '';
  return h(
    'tr',
    { class: 'bt-frame', 'data-frame': f.index },
    h('td', { class: 'dim' }, `#${f.index}`),
    h('td', { class: 'mono' }, f.pc),
    // A named frame's note is its tooltip (a marker says there is one); an unnamed frame says it in full.
    h('td', { class: 'mono bt-function', title: f.note ?? '' }, fn, f.note ? h('span', { class: 'dim bt-note' }, f.function ? ' *' : ` (${f.note})`) : ''),
    h('td', { class: 'mono', title: f.module ?? '' }, f.module ? baseName(f.module) + how : how.trim()),
    h('td', { class: 'mono' }, src),
  );
}

/** The table of a backtrace, with its ending. */
export function backtraceTable(b: BacktraceModel, onOpen?: (frame: number) => void): HTMLElement {
  const body = h('tbody', {}, ...b.frames.map((f) => frameRow(f, onOpen)));
  const table = h(
    'table',
    { class: 'as-table bt-table', 'aria-label': `Backtrace of thread ${b.tid}` },
    h('thead', {}, h('tr', {}, ...['#', 'address', 'function', 'file', 'source'].map((c) => h('th', { scope: 'col' }, c)))),
    body,
  );
  const ending = h('div', { class: `bt-stop dim${b.stop.reason === 'outermost' ? '' : ' bt-incomplete'}` }, stopText(b));
  return h('div', { class: 'bt' }, table, ending);
}

/** A collapsible section that makes its content the first time it is opened (again after a failure). */
function lazySection(title: string, open: boolean, make: () => Promise<HTMLElement>): HTMLElement {
  const body = h('div', { class: 'bt-body' });
  const details = h('details', { class: 'bt-section' }, h('summary', {}, title), body);
  let loaded = false;
  const fill = () => {
    if (loaded || !details.open) return;
    loaded = true;
    body.appendChild(h('div', { class: 'dim' }, 'unwinding…'));
    make().then(
      (el) => {
        clear(body);
        body.appendChild(el);
      },
      (e: Error) => {
        clear(body);
        body.appendChild(h('div', { class: 'error' }, `No backtrace: ${e.message}`));
        loaded = false;
      },
    );
  };
  details.addEventListener('toggle', fill);
  if (open) {
    details.open = true;
    fill();
  }
  return details;
}

/** A thread's backtrace section, which asks for its backtrace when first opened. */
export function backtraceSection(title: string, open: boolean, load: () => Promise<BacktraceModel>, onOpen?: (frame: number) => void): HTMLElement {
  return lazySection(title, open, async () => backtraceTable(await load(), onOpen));
}

/** A pair of threads' backtraces side by side (the compare editor), A left and B right. */
export function backtracePairSection(title: string, open: boolean, names: { a: string; b: string }, load: () => Promise<{ a?: BacktraceModel; b?: BacktraceModel }>): HTMLElement {
  return lazySection(title, open, async () => {
    const pair = await load();
    const side = (s: 'a' | 'b') => {
      const b = pair[s];
      return h(
        'div',
        { class: `bt-side ${s}` },
        h('h4', {}, `${s.toUpperCase()}: ${names[s]}${b ? `, thread ${b.tid}` : ''}`),
        b ? backtraceTable(b) : h('div', { class: 'dim' }, `not in ${s.toUpperCase()}`),
      );
    };
    return h('div', { class: 'bt-pair' }, side('a'), side('b'));
  });
}
