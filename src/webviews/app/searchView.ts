// Search memory: a search box (text, hex with ?? wildcards, or a regular expression; match case;
// UTF-16; a result cap; one process or all), the results as the host streams them in (address,
// VMA with its protection, the context with the match marked), progress and Cancel. A result, on
// click or Enter, is shown in the memory view with the match highlighted. The search runs on the
// host; this view only asks, and lists what comes back.

import type { ProcessModel, RevealedModel, SearchEndModel, SearchHitModel, SearchQueryModel } from '../../shared/models';
import type { HostEvent, SearchShownModel, WebviewRequestMap } from '../../shared/protocol';
import { hitPlace, hitPreview, PreviewStyle, previewStyle } from '../../shared/searchPreview';
import type { HostConnection } from './connection';
import { clear, formatBytes, h } from './dom';

type SearchMode = SearchQueryModel['mode'];
type SearchEvent = Extract<HostEvent, { type: 'searchHits' | 'searchProgress' | 'searchEnd' }>;
export type SearchRun = WebviewRequestMap['runSearch']['params'];

const CAPS = [100, 1000, 10000];
const PLACEHOLDER: Record<SearchMode, string> = {
  text: 'Text to find',
  hex: 'Hex bytes, e.g. de ad ?? ef',
  regex: 'Regular expression',
};

interface Current {
  id: number;
  style: PreviewStyle;
  hits: SearchHitModel[];
  end?: SearchEndModel;
  ended: Promise<SearchEndModel>;
  resolveEnd(e: SearchEndModel): void;
}

export class SearchView {
  readonly element: HTMLDivElement;
  private readonly input: HTMLInputElement;
  private readonly modes: Record<SearchMode, HTMLInputElement>;
  private readonly matchCase: HTMLInputElement;
  private readonly utf16: HTMLInputElement;
  private readonly cap: HTMLSelectElement;
  private readonly scope: HTMLSelectElement;
  private readonly scopeLabel: HTMLLabelElement;
  private readonly searchButton: HTMLButtonElement;
  private readonly cancelButton: HTMLButtonElement;
  private readonly message: HTMLSpanElement;
  private readonly progress: HTMLProgressElement;
  private readonly list: HTMLDivElement;
  private current?: Current;
  private focusedRow = 0;
  private selectedRow?: number;

  constructor(
    private readonly conn: HostConnection,
    private readonly onJump: (hit: SearchHitModel) => Promise<RevealedModel | undefined>,
  ) {
    this.input = h('input', { type: 'text', class: 'search-input', placeholder: PLACEHOLDER.text, 'aria-label': 'Search memory for', spellcheck: 'false', autocomplete: 'off' });
    this.searchButton = h('button', { type: 'submit', class: 'primary' }, 'Search');
    this.cancelButton = h('button', { type: 'button', disabled: true, title: 'Stop the search (Escape)' }, 'Cancel');
    const radio = (mode: SearchMode, label: string) => {
      const r = h('input', { type: 'radio', name: 'search-mode', value: mode, checked: mode === 'text' });
      return { r, el: h('label', { class: 'opt' }, r, ` ${label}`) };
    };
    const text = radio('text', 'Text'),
      hex = radio('hex', 'Hex'),
      regex = radio('regex', 'Regex');
    this.modes = { text: text.r, hex: hex.r, regex: regex.r };
    this.matchCase = h('input', { type: 'checkbox', class: 'opt-case' });
    this.utf16 = h('input', { type: 'checkbox', class: 'opt-utf16' });
    this.cap = h('select', { class: 'opt-cap', 'aria-label': 'Most results' }, ...CAPS.map((n) => h('option', { value: n, selected: n === 1000 }, n.toLocaleString('en-US'))));
    this.scope = h('select', { class: 'opt-scope', 'aria-label': 'Processes to search' });
    this.scopeLabel = h('label', { class: 'opt', hidden: true }, 'In ', this.scope);
    const form = h(
      'form',
      { class: 'search-form', role: 'search', 'aria-label': 'Search memory' },
      h('div', { class: 'search-row' }, this.input, this.searchButton, this.cancelButton),
      h(
        'div',
        { class: 'search-options' },
        h('div', { class: 'opt-group', role: 'radiogroup', 'aria-label': 'Search for' }, text.el, hex.el, regex.el),
        h('label', { class: 'opt', title: 'Letters match only in the case typed' }, this.matchCase, ' Match case'),
        h('label', { class: 'opt', title: 'Text encoded as UTF-16LE (as Windows, Java and JavaScript engines keep it)' }, this.utf16, ' UTF-16'),
        h('label', { class: 'opt' }, 'Max ', this.cap),
        this.scopeLabel,
      ),
    );
    this.message = h('span', { class: 'search-message' });
    this.progress = h('progress', { class: 'search-progress', max: 1, value: 0, hidden: true, 'aria-label': 'Search progress' });
    const status = h('div', { class: 'search-status', role: 'status', 'aria-live': 'polite' }, this.progress, this.message);
    this.list = h('div', { class: 'search-results', role: 'listbox', 'aria-label': 'Search results' });
    this.element = h('div', { class: 'search-pane' }, form, status, this.list);

    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.start();
    });
    for (const r of Object.values(this.modes)) r.addEventListener('change', () => this.syncOptions());
    this.cancelButton.addEventListener('click', () => void this.cancel());
    this.element.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.current && !this.current.end) {
        e.preventDefault();
        void this.cancel();
      }
    });
    this.list.addEventListener('keydown', (e) => this.onListKey(e));
    this.list.addEventListener('click', (e) => {
      const row = (e.target as HTMLElement).closest('.hit') as HTMLElement | null;
      if (row) void this.jump(Number(row.dataset.i), true);
    });
    this.syncOptions();
  }

  focus(): void {
    this.input.focus();
    this.input.select();
  }

  /** The processes to offer in the scope picker (shown only when there are several). */
  setProcesses(processes: ProcessModel[]): void {
    clear(this.scope);
    this.scope.appendChild(h('option', { value: '' }, 'all processes'));
    for (const p of processes) this.scope.appendChild(h('option', { value: p.index }, `${p.pid} ${p.comm}`));
    this.scopeLabel.hidden = processes.length < 2;
  }

  private get mode(): SearchMode {
    return (Object.keys(this.modes) as SearchMode[]).find((m) => this.modes[m].checked) ?? 'text';
  }

  private syncOptions(): void {
    const mode = this.mode;
    this.input.placeholder = PLACEHOLDER[mode];
    this.matchCase.disabled = mode === 'hex';
    this.utf16.disabled = mode !== 'text';
  }

  private query(): SearchQueryModel {
    const mode = this.mode;
    const q: SearchQueryModel = { mode, pattern: this.input.value };
    if (mode === 'text' && this.utf16.checked) q.encoding = 'utf16le';
    if (mode !== 'hex' && !this.matchCase.checked) q.ignoreCase = true;
    return q;
  }

  /** Starts a search with what the form says; resolves with its id once the host has started it. */
  async start(): Promise<number | undefined> {
    const query = this.query();
    if (!query.pattern) {
      this.say('Type something to search for.', 'error');
      this.input.focus();
      return undefined;
    }
    const maxHits = Number(this.cap.value);
    const process = this.scope.value === '' ? undefined : Number(this.scope.value);
    this.reset();
    this.say('Starting…');
    let id: number;
    try {
      ({ search: id } = await this.conn.request('search', { query, maxHits, ...(process !== undefined ? { process } : {}) }));
    } catch (e) {
      this.say(e instanceof Error ? e.message : String(e), 'error');
      this.setRunning(false);
      return undefined;
    }
    let resolveEnd!: (e: SearchEndModel) => void;
    const ended = new Promise<SearchEndModel>((r) => (resolveEnd = r));
    this.current = { id, style: previewStyle(query), hits: [], ended, resolveEnd };
    this.setRunning(true);
    this.say('Searching…');
    return id;
  }

  /** Fills the form in as the host asks, searches, and (when asked) shows the first hit: what it then shows. */
  async runFromHost(run: SearchRun): Promise<SearchShownModel> {
    this.input.value = run.query.pattern;
    this.modes[run.query.mode].checked = true;
    this.utf16.checked = run.query.encoding === 'utf16le';
    this.matchCase.checked = run.query.mode !== 'hex' && !run.query.ignoreCase;
    if (!CAPS.includes(run.maxHits)) this.cap.appendChild(h('option', { value: run.maxHits }, run.maxHits.toLocaleString('en-US')));
    this.cap.value = String(run.maxHits);
    this.scope.value = '';
    this.syncOptions();
    const id = await this.start();
    const cur = this.current;
    if (id === undefined || !cur) return { search: 0, listed: 0 };
    await cur.ended;
    let revealed: RevealedModel | undefined;
    if (run.goToFirst && cur.hits.length > 0 && this.current === cur) revealed = await this.jump(0, false);
    return { search: id, listed: this.list.childElementCount, ...(revealed ? { revealed } : {}) };
  }

  async cancel(): Promise<void> {
    const cur = this.current;
    if (!cur || cur.end) return;
    this.cancelButton.disabled = true;
    await this.conn.request('cancelSearch', { search: cur.id }).catch(() => undefined);
  }

  onEvent(e: SearchEvent): void {
    const cur = this.current;
    if (!cur || e.search !== cur.id) return;
    switch (e.type) {
      case 'searchHits':
        this.addHits(cur, e.hits);
        break;
      case 'searchProgress': {
        const p = e.progress;
        this.progress.max = Math.max(1, p.totalBytes);
        this.progress.value = p.scannedBytes;
        const pct = p.totalBytes ? Math.floor((p.scannedBytes / p.totalBytes) * 100) : 0;
        this.say(`Searching… ${pct}% of ${formatBytes(p.totalBytes)} · ${results(cur.hits.length)}`);
        break;
      }
      case 'searchEnd': {
        cur.end = e.end;
        this.setRunning(false);
        const n = cur.hits.length;
        const where = formatBytes(e.end.totalBytes);
        switch (e.end.status) {
          case 'done':
            this.say(n ? `${results(n)} in ${where} (${seconds(e.end.ms)})` : `No results in ${where} (${seconds(e.end.ms)})`);
            break;
          case 'truncated':
            this.say(`The first ${results(n)}: the search stopped at the cap, there may be more`, 'warn');
            break;
          case 'cancelled': {
            const pct = e.end.totalBytes ? Math.floor((e.end.scannedBytes / e.end.totalBytes) * 100) : 0;
            this.say(`Cancelled at ${pct}%: ${results(n)}`, 'warn');
            break;
          }
          case 'failed':
            this.say(`The search failed: ${e.end.error ?? 'unknown error'}`, 'error');
            break;
        }
        cur.resolveEnd(e.end);
        break;
      }
    }
  }

  private reset(): void {
    this.current?.resolveEnd({ status: 'cancelled', scannedBytes: 0, totalBytes: 0, hits: 0, ms: 0 });
    this.current = undefined;
    this.focusedRow = 0;
    this.selectedRow = undefined;
    clear(this.list);
    this.progress.value = 0;
  }

  private setRunning(on: boolean): void {
    this.cancelButton.disabled = !on;
    this.progress.hidden = !on;
    this.element.classList.toggle('running', on);
  }

  private say(text: string, cls: '' | 'error' | 'warn' = ''): void {
    this.message.textContent = text;
    this.message.className = `search-message${cls ? ` ${cls}` : ''}`;
  }

  private addHits(cur: Current, hits: SearchHitModel[]): void {
    const multi = !this.scopeLabel.hidden;
    const frag = document.createDocumentFragment();
    for (const hit of hits) {
      const i = cur.hits.length;
      cur.hits.push(hit);
      const p = hitPreview(hit, cur.style);
      const place = hitPlace(hit);
      const row = h(
        'div',
        {
          class: 'hit',
          role: 'option',
          id: `hit-${i}`,
          tabindex: i === this.focusedRow ? 0 : -1,
          'aria-selected': 'false',
          'aria-label': `${hit.address}, ${place}${multi ? `, pid ${hit.pid}` : ''}: ${p.before}[${p.match}]${p.after}`,
        },
        h(
          'div',
          { class: 'hit-line' },
          h('span', { class: 'hit-addr mono' }, hit.address),
          h('span', { class: 'hit-place' }, place),
          multi ? h('span', { class: 'hit-pid dim' }, `pid ${hit.pid}`) : undefined,
        ),
        h('div', { class: 'hit-ctx mono' }, h('span', { class: 'ctx' }, p.before), h('mark', { class: 'hit-match' }, p.match), h('span', { class: 'ctx' }, p.after)),
      );
      row.dataset.i = String(i);
      frag.appendChild(row);
    }
    this.list.appendChild(frag);
  }

  private row(i: number): HTMLElement | null {
    return this.list.querySelector<HTMLElement>(`#hit-${i}`);
  }

  private focusRow(i: number): void {
    const n = this.current?.hits.length ?? 0;
    if (n === 0) return;
    const next = Math.max(0, Math.min(n - 1, i));
    this.row(this.focusedRow)?.setAttribute('tabindex', '-1');
    this.focusedRow = next;
    const el = this.row(next);
    el?.setAttribute('tabindex', '0');
    el?.focus();
    el?.scrollIntoView({ block: 'nearest' });
  }

  private async jump(i: number, byUser: boolean): Promise<RevealedModel | undefined> {
    const hit = this.current?.hits[i];
    if (!hit) return undefined;
    if (this.selectedRow !== undefined) this.row(this.selectedRow)?.setAttribute('aria-selected', 'false');
    this.selectedRow = i;
    this.row(i)?.setAttribute('aria-selected', 'true');
    if (byUser) this.focusRow(i);
    return this.onJump(hit);
  }

  private onListKey(e: KeyboardEvent): void {
    const page = Math.max(1, Math.floor(this.list.clientHeight / 40) - 1);
    switch (e.key) {
      case 'ArrowDown':
        this.focusRow(this.focusedRow + 1);
        break;
      case 'ArrowUp':
        this.focusRow(this.focusedRow - 1);
        break;
      case 'PageDown':
        this.focusRow(this.focusedRow + page);
        break;
      case 'PageUp':
        this.focusRow(this.focusedRow - page);
        break;
      case 'Home':
        this.focusRow(0);
        break;
      case 'End':
        this.focusRow(Number.MAX_SAFE_INTEGER);
        break;
      case 'Enter':
      case ' ':
        void this.jump(this.focusedRow, true);
        break;
      default:
        return;
    }
    e.preventDefault();
  }
}

function results(n: number): string {
  return `${n.toLocaleString('en-US')} result${n === 1 ? '' : 's'}`;
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}
