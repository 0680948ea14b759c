// The compare editor's webview: the two images and the counts of what changed on top (or the
// comparison's progress, with Cancel), the tree of differences on the left, the selected difference
// on the right (fields, registers side by side, changed pages, a page's bytes side by side). It holds
// no image data; everything comes from the host by request (src/shared/compareProtocol.ts).

import type { CompareResultModel, CompareSideModel, CompareStatusModel } from '../../shared/compareProtocol';
import { unhandled } from '../../shared/protocol';
import { kindTitle, methodLine, summaryLine } from '../../shared/compareText';
import { CompareConnection } from './compareConnection';
import { DiffDetail } from './diffDetail';
import { DiffTree } from './diffTree';
import { clear, formatBytes, h, mountEditor, StatusLine } from './dom';
import { splitter } from './splitter';

class CompareEditor {
  private readonly conn = new CompareConnection();
  private readonly sides: HTMLDivElement;
  private readonly result: HTMLDivElement;
  private readonly progressBox: HTMLDivElement;
  private readonly progressText: HTMLSpanElement;
  private readonly progress: HTMLProgressElement;
  private readonly cancel: HTMLButtonElement;
  private readonly rerun: HTMLButtonElement;
  private readonly tree: DiffTree;
  private readonly detail: DiffDetail;
  private readonly status = new StatusLine();
  private loaded = false;

  constructor(root: HTMLElement) {
    this.sides = h('div', { class: 'cmp-sides' });
    this.result = h('div', { class: 'cmp-result', role: 'status', 'aria-live': 'polite' });
    this.progressText = h('span', { class: 'cmp-progress-text' });
    this.progress = h('progress', { class: 'cmp-progress-bar', max: 1, value: 0, 'aria-label': 'Comparison progress' });
    this.cancel = h('button', { type: 'button', title: 'Stop the comparison' }, 'Cancel');
    this.rerun = h('button', { type: 'button', class: 'secondary', title: 'Compare the two images again' }, 'Compare again');
    const swap = h('button', { type: 'button', class: 'secondary', title: 'Compare B with A instead' }, 'Swap sides');
    this.progressBox = h('div', { class: 'cmp-progress', hidden: true }, this.progressText, this.progress, this.cancel);
    this.cancel.addEventListener('click', () => this.conn.send({ type: 'cancel' }));
    this.rerun.addEventListener('click', () => this.conn.send({ type: 'rerun' }));
    swap.addEventListener('click', () => this.conn.send({ type: 'swap' }));
    const header = h(
      'header',
      { class: 'summary compare-summary', 'aria-label': 'Comparison' },
      h('div', { class: 'summary-facts' }, this.sides, this.progressBox, this.result),
      h('div', { class: 'summary-side' }, h('div', { class: 'actions' }, this.rerun, swap)),
    );
    this.tree = new DiffTree(this.conn, (id) => void this.select(id));
    this.detail = new DiffDetail(this.conn, (side, node) => this.conn.send({ type: 'open', side, node }));
    const treePane = h('nav', { class: 'tree-pane', 'aria-label': 'Differences' }, h('div', { class: 'pane-title' }, 'Differences'), this.tree.element);
    root.appendChild(header);
    root.appendChild(h('main', { class: 'split' }, treePane, splitter(treePane, 'Resize the list of differences'), this.detail.element));
    root.appendChild(this.status.element);
    this.conn.onEvent((e) => {
      switch (e.type) {
        case 'status':
          void this.onStatus(e.status);
          break;
        default:
          unhandled(e.type); // one kind today: the event itself does not narrow
      }
    });
  }

  async start(): Promise<void> {
    this.conn.send({ type: 'ready' });
    await this.refresh();
  }

  private async refresh(): Promise<void> {
    try {
      const o = await this.conn.request('overview', {});
      this.conn.saveState({ a: o.a.path, b: o.b.path });
      this.detail.names = { a: o.a.fileName, b: o.b.fileName };
      this.showSides(o.a, o.b);
      this.showStatus(o.status);
      if (o.result) {
        this.showResult(o.result);
        if (!this.loaded) await this.loadTree(o.result);
      }
    } catch (e) {
      this.status.error(e);
    }
  }

  private async onStatus(s: CompareStatusModel): Promise<void> {
    if (s.state === 'running' && this.loaded) {
      // Compared again: start over.
      this.loaded = false;
      this.tree.reset();
      this.detail.showEmpty('Comparing…');
      clear(this.result);
    }
    this.showStatus(s);
    if (s.state !== 'running') await this.refresh();
  }

  private showSides(a: CompareSideModel, b: CompareSideModel): void {
    clear(this.sides);
    const side = (tag: 'a' | 'b', s: CompareSideModel) => {
      const name = h('button', { type: 'button', class: 'link side-name', title: `Open ${s.path} in the image editor` }, s.fileName);
      name.addEventListener('click', () => this.conn.send({ type: 'open', side: tag }));
      const when = new Date(s.time);
      const time = Number.isNaN(when.getTime()) ? s.time : when.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
      return h(
        'div',
        { class: `cmp-side ${tag}` },
        h('span', { class: `side-tag ${tag}`, 'aria-label': `image ${tag.toUpperCase()}` }, tag.toUpperCase()),
        h('div', {}, name, h('div', { class: 'dim' }, `taken ${time} · ${formatBytes(s.size)} · ${s.processes} process${s.processes === 1 ? '' : 'es'}`)),
      );
    };
    this.sides.appendChild(side('a', a));
    this.sides.appendChild(h('span', { class: 'cmp-arrow', 'aria-hidden': 'true' }, '→'));
    this.sides.appendChild(side('b', b));
  }

  private showStatus(s: CompareStatusModel): void {
    this.progressBox.hidden = s.state !== 'running';
    this.rerun.disabled = s.state === 'running';
    this.cancel.disabled = s.state !== 'running';
    this.status.clear();
    switch (s.state) {
      case 'running':
        this.progress.max = Math.max(1, s.total);
        this.progress.value = s.done;
        this.progressText.textContent = s.total ? `Comparing… ${formatBytes(s.done)} of ${formatBytes(s.total)} of page data read (these images have no page hashes)` : 'Comparing…';
        break;
      case 'cancelled':
        this.detail.showEmpty('The comparison was cancelled.');
        clear(this.result);
        this.result.appendChild(h('p', { class: 'cmp-headline warn' }, 'The comparison was cancelled. Compare again to finish it.'));
        break;
      case 'failed':
        this.detail.showEmpty('The comparison failed.');
        clear(this.result);
        this.result.appendChild(h('p', { class: 'cmp-headline error' }, `The comparison failed: ${s.error}`));
        break;
      case 'done':
        break; // the result comes in its own message
    }
  }

  private showResult(r: CompareResultModel): void {
    clear(this.result);
    this.result.appendChild(h('p', { class: `cmp-headline${r.same ? ' same' : ''}` }, summaryLine(r)));
    if (!r.same && (r.counts.length || r.total)) {
      const table = h('table', { class: 'counts' }, h('caption', { class: 'visually-hidden' }, 'Changes by kind'));
      table.appendChild(h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, ''), ...['added', 'removed', 'changed'].map((c) => h('th', { scope: 'col', class: c }, c)))));
      const body = h('tbody');
      const cell = (n: number, cls: string) => h('td', { class: n ? cls : 'none' }, n ? n.toLocaleString('en-US') : '–');
      for (const c of r.counts) {
        body.appendChild(h('tr', {}, h('th', { scope: 'row' }, kindTitle(c.kind)), cell(c.added, 'added'), cell(c.removed, 'removed'), cell(c.changed, 'changed')));
      }
      const p = r.pages;
      if (p.modified + p.added + p.removed) {
        body.appendChild(
          h(
            'tr',
            { class: 'pages' },
            h('th', { scope: 'row', title: 'added: only in B; removed: only in A; changed: modified' }, 'Pages'),
            cell(p.added, 'added'),
            cell(p.removed, 'removed'),
            cell(p.modified, 'changed'),
          ),
        );
      }
      table.appendChild(body);
      this.result.appendChild(table);
    }
    this.result.appendChild(h('p', { class: 'dim cmp-method' }, methodLine(r, formatBytes)));
    if (r.problems.length) {
      const list = h('ul', { class: 'problem-list' });
      for (const p of r.problems.slice(0, 20)) list.appendChild(h('li', { class: 'error' }, `${p.side.toUpperCase()}: ${p.message} (left out of the comparison)`));
      this.result.appendChild(list);
    }
  }

  private async loadTree(r: CompareResultModel): Promise<void> {
    this.loaded = true;
    if (r.same) {
      this.tree.reset();
      this.detail.showEmpty('Nothing differs between the two images.');
      document.body.dataset.ready = 'true';
      return;
    }
    await this.tree.load(3);
    // Start at the first difference that is more than a container: a changed VMA or thread, say.
    const first = this.tree.find((row) => row.fields > 0 || !!row.pages || row.change !== 'changed') ?? this.tree.firstId;
    if (first !== undefined) {
      this.tree.select(first, false);
      await this.select(first);
    }
    document.body.dataset.ready = 'true';
  }

  private async select(id: number): Promise<void> {
    try {
      await this.detail.show(id);
    } catch (e) {
      this.status.error(e);
    }
  }
}

mountEditor('These images cannot be compared', (root) => new CompareEditor(root).start());
