// The image editor's webview: summary on top, on the left the record tree or the memory search
// (two tabs of one pane), the selected record (or a search hit, in its memory) on the right. It
// holds no image data of its own; everything comes from the host by request.

import { unhandled, type HostEvent } from '../../shared/protocol';
import type { RecordDetailModel, RecordView, RevealedModel, SearchHitModel } from '../../shared/models';
import { HostConnection } from './connection';
import { DetailView } from './detailView';
import { h, mountEditor, StatusLine } from './dom';
import { RecordTree } from './recordTree';
import { SearchView } from './searchView';
import { splitter } from './splitter';
import { SummaryView } from './summaryView';

type PaneTab = 'records' | 'search';

class ImageEditor {
  private readonly conn = new HostConnection();
  private readonly summary: SummaryView;
  private readonly tree: RecordTree;
  private readonly detail: DetailView;
  private readonly search: SearchView;
  private readonly status = new StatusLine();
  private readonly paneTabs: Record<PaneTab, { tab: HTMLButtonElement; panel: HTMLElement }>;
  /** Counts record selections and shows: the answer to an older one is dropped. */
  private showing = 0;
  /** A record the host asked to select before the tree was loaded: it is selected first. */
  private pendingSelect?: number;
  private started = false;
  /** Resolves once the first record is shown: a search the host runs waits for it, so that the
   *  first selection cannot land after (and over) the memory view of the search's first hit. */
  private readonly startedShowing: Promise<void>;
  private markStarted = () => {};

  constructor(root: HTMLElement) {
    this.summary = new SummaryView(
      (command) => this.conn.send({ type: 'run', command }),
      (record, view) => void this.selectRecord(record, true, view),
    );
    this.tree = new RecordTree(this.conn, (index) => void this.showRecord(index, true));
    this.detail = new DetailView(
      this.conn,
      (p) => void this.selectRecord(p.index, true, p.openMemory ? 'memory' : 'addressSpace'),
      (index) => void this.selectRecord(index, true),
      (index, path) => this.conn.send({ type: 'openFile', index, path }),
    );
    this.search = new SearchView(this.conn, (hit) => this.showHit(hit));
    const tab = (id: PaneTab, label: string) =>
      h(
        'button',
        {
          type: 'button',
          class: 'pane-tab',
          role: 'tab',
          id: `pane-tab-${id}`,
          'aria-controls': `pane-${id}`,
          'aria-selected': id === 'records' ? 'true' : 'false',
          tabindex: id === 'records' ? 0 : -1,
        },
        label,
      );
    this.paneTabs = {
      records: { tab: tab('records', 'Records'), panel: h('div', { class: 'pane-panel', role: 'tabpanel', id: 'pane-records', 'aria-labelledby': 'pane-tab-records' }, this.tree.element) },
      search: {
        tab: tab('search', 'Search memory'),
        panel: h('div', { class: 'pane-panel', role: 'tabpanel', id: 'pane-search', 'aria-labelledby': 'pane-tab-search', hidden: true }, this.search.element),
      },
    };
    const tabs = h('div', { class: 'pane-tabs', role: 'tablist', 'aria-label': 'Records or memory search' }, this.paneTabs.records.tab, this.paneTabs.search.tab);
    for (const k of ['records', 'search'] as const) this.paneTabs[k].tab.addEventListener('click', () => this.showPane(k, true));
    tabs.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
      e.preventDefault();
      this.showPane(this.paneTabs.records.panel.hidden ? 'records' : 'search', false);
      (this.paneTabs.records.panel.hidden ? this.paneTabs.search : this.paneTabs.records).tab.focus();
    });
    const treePane = h('nav', { class: 'tree-pane', 'aria-label': 'Records and search' }, tabs, this.paneTabs.records.panel, this.paneTabs.search.panel);
    root.appendChild(this.summary.element);
    root.appendChild(h('main', { class: 'split' }, treePane, splitter(treePane, 'Resize the record list'), this.detail.element));
    root.appendChild(this.status.element);
    this.startedShowing = new Promise((resolve) => (this.markStarted = resolve));
    this.conn.onEvent((e) => void this.onHostEvent(e));
    this.conn.onRequest({
      runSearch: async (run) => {
        this.showPane('search', true);
        await this.startedShowing;
        return this.search.runFromHost(run);
      },
    });
  }

  async start(): Promise<void> {
    this.conn.send({ type: 'ready' });
    try {
      const s = await this.conn.request('summary', {});
      this.summary.show(s);
      this.search.setProcesses(s.processes);
      await this.tree.load();
      const saved = this.conn.state.selected;
      this.started = true;
      const first = this.pendingSelect ?? (typeof saved === 'number' ? saved : (s.processes[0]?.index ?? this.tree.firstId));
      if (first !== undefined && first >= 0) await this.selectRecord(first, true);
      document.body.dataset.ready = 'true';
    } catch (e) {
      this.status.error(e);
    } finally {
      this.markStarted();
    }
  }

  /**
   * Selects a record in the tree (opening its ancestors) and shows it. As in showRecord, the latest
   * selection wins: the two clicks of a double-click on a VMA ask for its address space, then its
   * memory, and the first answer must not land last.
   */
  private async selectRecord(index: number, notify: boolean, view?: RecordView): Promise<void> {
    try {
      const ticket = ++this.showing;
      const d = await this.conn.request('record', { index });
      if (ticket !== this.showing) return;
      await this.tree.reveal(index, d.path, false);
      if (ticket !== this.showing) return;
      await this.showDetail(d, view);
      if (notify) this.conn.send({ type: 'selected', index });
    } catch (e) {
      this.status.error(e);
    }
  }

  private async showRecord(index: number, notify: boolean): Promise<void> {
    try {
      const ticket = ++this.showing;
      const d = await this.conn.request('record', { index });
      if (ticket !== this.showing) return;
      await this.showDetail(d);
      if (notify) this.conn.send({ type: 'selected', index });
    } catch (e) {
      this.status.error(e);
    }
  }

  /** Shows one of the left pane's tabs: the record tree, or the memory search (focusing its box). */
  private showPane(which: PaneTab, focus: boolean): void {
    for (const k of ['records', 'search'] as const) {
      const on = k === which;
      this.paneTabs[k].panel.hidden = !on;
      this.paneTabs[k].tab.setAttribute('aria-selected', on ? 'true' : 'false');
      this.paneTabs[k].tab.tabIndex = on ? 0 : -1;
    }
    if (focus && which === 'search') this.search.focus();
  }

  /** A search hit, in the memory of its process: the match highlighted, the cursor on its first byte. */
  private async showHit(hit: SearchHitModel): Promise<RevealedModel | undefined> {
    try {
      const d = this.detail.current;
      if (d && d.process === hit.process && d.views.includes('memory')) await this.detail.select('memory');
      else await this.selectRecord(hit.process, true, 'memory');
      return await this.detail.memory.highlight(BigInt(hit.address), hit.length, false);
    } catch (e) {
      this.status.error(e);
      return undefined;
    }
  }

  private async showDetail(d: RecordDetailModel, view?: RecordView): Promise<void> {
    this.conn.saveState({ selected: d.node.index });
    this.status.clear();
    await this.detail.show(d, view);
  }

  private async onHostEvent(e: HostEvent): Promise<void> {
    switch (e.type) {
      case 'select':
        if (!this.started) {
          this.pendingSelect = e.index;
          break;
        }
        if (this.tree.selectedId === e.index && this.detail.current?.node.index === e.index) return;
        await this.tree.reveal(e.index, e.path, false);
        await this.showRecord(e.index, false);
        break;
      case 'verification': {
        this.summary.showVerification(e.verification);
        if (e.verification.status !== 'running') {
          await this.tree.reload();
          const cur = this.detail.current?.node.index;
          if (cur !== undefined) await this.showRecord(cur, false);
        }
        break;
      }
      case 'searchHits':
      case 'searchProgress':
      case 'searchEnd':
        this.search.onEvent(e);
        break;
      case 'showSearch':
        this.showPane('search', true);
        break;
      default:
        unhandled(e);
    }
  }
}

mountEditor('This file cannot be shown', (root) => new ImageEditor(root).start());
