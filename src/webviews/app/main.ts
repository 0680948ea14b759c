// The image editor's webview: summary on top, record tree on the left, the selected record on the
// right. It holds no image data of its own; everything comes from the host by request.

import type { HostEvent } from '../../shared/protocol';
import type { RecordDetailModel, RecordView } from '../../shared/models';
import { HostConnection } from './connection';
import { DetailView } from './detailView';
import { h } from './dom';
import { RecordTree } from './recordTree';
import { SummaryView } from './summaryView';

class ImageEditor {
  private readonly conn = new HostConnection();
  private readonly summary: SummaryView;
  private readonly tree: RecordTree;
  private readonly detail: DetailView;
  private readonly status: HTMLDivElement;
  private showing = 0;

  constructor(root: HTMLElement) {
    this.summary = new SummaryView(
      (command) => this.conn.send({ type: 'run', command }),
      (record) => void this.selectRecord(record, true),
    );
    this.tree = new RecordTree(this.conn, (index) => void this.showRecord(index, true));
    this.detail = new DetailView(this.conn, (p) => void this.selectRecord(p.index, true, p.openMemory ? 'memory' : 'addressSpace'));
    this.status = h('div', { class: 'status', role: 'status' });
    const treePane = h('nav', { class: 'tree-pane', 'aria-label': 'Records' }, h('div', { class: 'pane-title' }, 'Records'), this.tree.element);
    root.appendChild(this.summary.element);
    root.appendChild(h('main', { class: 'split' }, treePane, splitter(treePane), this.detail.element));
    root.appendChild(this.status);
    this.conn.onEvent((e) => void this.onHostEvent(e));
  }

  async start(): Promise<void> {
    this.conn.send({ type: 'ready' });
    try {
      const s = await this.conn.request('summary', {});
      this.summary.show(s);
      await this.tree.load();
      const saved = this.conn.state.selected;
      const first = typeof saved === 'number' ? saved : s.processes[0]?.index ?? this.tree.firstIndex;
      if (first !== undefined && first >= 0) await this.selectRecord(first, true);
      document.body.dataset.ready = 'true';
    } catch (e) {
      this.fail(e);
    }
  }

  /** Selects a record in the tree (opening its ancestors) and shows it. */
  private async selectRecord(index: number, notify: boolean, view?: RecordView): Promise<void> {
    try {
      const d = await this.conn.request('record', { index });
      await this.tree.reveal(index, d.path, false);
      await this.showDetail(d, view);
      if (notify) this.conn.send({ type: 'selected', index });
    } catch (e) {
      this.fail(e);
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
      this.fail(e);
    }
  }

  private async showDetail(d: RecordDetailModel, view?: RecordView): Promise<void> {
    this.conn.saveState({ selected: d.node.index });
    this.status.textContent = '';
    await this.detail.show(d, view);
  }

  private async onHostEvent(e: HostEvent): Promise<void> {
    switch (e.type) {
      case 'select':
        if (this.tree.selectedIndex === e.index && this.detail.current?.node.index === e.index) return;
        await this.tree.reveal(e.index, e.path, false);
        await this.showRecord(e.index, false);
        break;
      case 'verification': {
        this.summary.showVerification(e.verification);
        if (e.verification.status !== 'running') {
          await this.tree.refreshMarks();
          const cur = this.detail.current?.node.index;
          if (cur !== undefined) await this.showRecord(cur, false);
        }
        break;
      }
    }
  }

  private fail(e: unknown): void {
    this.status.textContent = `Error: ${e instanceof Error ? e.message : String(e)}`;
    this.status.classList.add('error');
  }
}

/** A vertical bar that resizes the pane before it, by mouse or by arrow keys. */
function splitter(pane: HTMLElement): HTMLElement {
  const bar = h('div', { class: 'splitter', role: 'separator', 'aria-orientation': 'vertical', 'aria-label': 'Resize the record list', tabindex: 0 });
  const setWidth = (px: number) => {
    const max = (pane.parentElement?.clientWidth ?? 1000) - 200;
    pane.style.width = `${Math.max(160, Math.min(max, px))}px`;
    bar.setAttribute('aria-valuenow', String(Math.round(pane.getBoundingClientRect().width)));
  };
  bar.addEventListener('pointerdown', (e) => {
    e.preventDefault();
    bar.setPointerCapture(e.pointerId);
    const left = pane.getBoundingClientRect().left;
    const move = (ev: PointerEvent) => setWidth(ev.clientX - left);
    const up = () => {
      bar.removeEventListener('pointermove', move);
      bar.removeEventListener('pointerup', up);
    };
    bar.addEventListener('pointermove', move);
    bar.addEventListener('pointerup', up);
  });
  bar.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    e.preventDefault();
    setWidth(pane.getBoundingClientRect().width + (e.key === 'ArrowLeft' ? -24 : 24));
  });
  return bar;
}

const root = document.getElementById('app');
if (root) {
  const failure = root.dataset.error;
  if (failure) {
    root.appendChild(h('div', { class: 'open-error', role: 'alert' }, h('h1', {}, 'This file cannot be shown'), h('p', {}, failure)));
  } else {
    void new ImageEditor(root).start();
  }
}
