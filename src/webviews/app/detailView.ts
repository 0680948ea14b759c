// The selected record: a title, its problems, and tabs for what can be shown of it: its fields above
// its raw bytes (the selected field's bytes highlighted), the address space of its process, and
// memory by virtual address.

import { HexLayout } from '../../shared/hexLayout';
import type { RecordDetailModel, RecordView } from '../../shared/models';
import { MAX_BYTES_PER_REQUEST } from '../../shared/protocol';
import { AddressSpaceView, VmaPick } from './addressSpaceView';
import type { HostConnection } from './connection';
import { clear, formatBytes, h } from './dom';
import { FieldsView } from './fieldsView';
import { HexView } from './hexView';
import { FilesView, LogView, TextView } from './memberViews';
import { MemoryView } from './memoryView';
import { ProcessView } from './processView';

const TAB_LABELS: Record<RecordView, string> = {
  process: 'Process',
  fields: 'Fields & bytes',
  addressSpace: 'Address space',
  memory: 'Memory',
  text: 'Text',
  log: 'Log',
  files: 'Files',
};

export class DetailView {
  readonly element: HTMLDivElement;
  private readonly title: HTMLDivElement;
  private readonly problems: HTMLDivElement;
  private readonly tabs: HTMLDivElement;
  private readonly panels: Record<RecordView, HTMLDivElement>;
  private readonly fields: FieldsView;
  private readonly raw = new HexView('Raw bytes of the record');
  private readonly addressSpace: AddressSpaceView;
  readonly memory: MemoryView;
  private readonly process: ProcessView;
  private readonly text: TextView;
  private readonly log: LogView;
  private readonly files: FilesView;
  private detail?: RecordDetailModel;
  private view: RecordView = 'fields';
  /** The tab the user chose last, kept while it applies to the records selected after. */
  private chosen?: RecordView;

  constructor(
    private readonly conn: HostConnection,
    private readonly onPickVma: (p: VmaPick) => void,
    onRecord: (index: number) => void = (index) => onPickVma({ index, openMemory: false }),
    onOpenFile: (index: number, path: string) => void = () => {},
  ) {
    this.title = h('div', { class: 'detail-title' });
    this.problems = h('div', { class: 'detail-problems' });
    this.tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Record views' });
    this.fields = new FieldsView((f) => {
      const base = BigInt(this.detail?.file?.base ?? 0);
      this.raw.setHighlight(f ? BigInt(f.fileOffset) - base : undefined, f ? BigInt(f.fileOffset + f.size) - base : undefined, true);
    });
    this.addressSpace = new AddressSpaceView(this.conn, (p) => this.onPickVma(p));
    this.memory = new MemoryView(this.conn);
    this.process = new ProcessView(this.conn, onRecord);
    this.text = new TextView(this.conn);
    this.log = new LogView(this.conn);
    this.files = new FilesView(this.conn, onOpenFile);
    const fieldsPanel = h(
      'div',
      { class: 'panel fields-panel', role: 'tabpanel', id: 'panel-fields' },
      this.fields.element,
      h('div', { class: 'raw-title' }, 'Raw bytes (file offsets)'),
      this.raw.element,
    );
    const panel = (v: RecordView, child: HTMLElement) => h('div', { class: 'panel', role: 'tabpanel', id: `panel-${v}` }, child);
    this.panels = {
      process: panel('process', this.process.element),
      fields: fieldsPanel,
      addressSpace: panel('addressSpace', this.addressSpace.element),
      memory: panel('memory', this.memory.element),
      text: panel('text', this.text.element),
      log: panel('log', this.log.element),
      files: panel('files', this.files.element),
    };
    this.element = h('div', { class: 'detail' }, this.title, this.problems, this.tabs, ...Object.values(this.panels));
    this.tabs.addEventListener('keydown', (e) => this.onTabKey(e));
    this.showEmpty();
  }

  showEmpty(): void {
    this.title.textContent = 'Select a record';
    clear(this.tabs);
    for (const p of Object.values(this.panels)) p.hidden = true;
  }

  get current(): RecordDetailModel | undefined {
    return this.detail;
  }

  async show(d: RecordDetailModel, view?: RecordView): Promise<void> {
    this.detail = d;
    clear(this.title);
    this.title.appendChild(h('span', { class: `badge t-${d.node.title.toLowerCase()}` }, d.node.title));
    // In a checkpoint of many files (CRIU), offsets are shown in the record's own file.
    const base = d.file?.base ?? 0;
    const where = d.file ? `${d.file.name}, offset 0x${(d.payloadOffset - base).toString(16)}` : `0x${d.payloadOffset.toString(16)}`;
    this.title.appendChild(h('span', { class: 'detail-name' }, ` #${d.node.index}${d.node.tag !== undefined ? ` · tag ${d.node.tag}` : ''} · ${formatBytes(d.length)} payload at ${where}`));
    this.title.appendChild(h('div', { class: 'detail-line' }, d.node.detail));
    clear(this.problems);
    for (const p of d.problems) this.problems.appendChild(h('div', { class: `problem ${p.severity}`, role: 'alert' }, p.message));

    this.fields.show(d);
    const src = this.conn;
    const end = d.payloadOffset + d.length;
    // Addresses in the hex view are offsets in the record's file: the source's, less the file's start.
    this.raw.setSource({
      layout: new HexLayout([{ start: BigInt(d.offset - base), end: BigInt(end - base), kind: 'data' }]),
      addressDigits: 8,
      addressName: d.file ? `offset in ${d.file.name}` : 'file offset',
      fetch: async (addr, length) => {
        const from = Math.max(Number(addr) + base, d.offset);
        const to = Math.min(Number(addr) + base + length, end, from + MAX_BYTES_PER_REQUEST);
        if (to <= from) return [];
        const b = await src.request('bytes', { index: d.node.index, offset: from, length: to - from });
        return [{ addr: BigInt(b.offset - base), length: b.bytes.length, bytes: b.bytes }];
      },
    });

    const wanted = view ?? (this.chosen && d.views.includes(this.chosen) ? this.chosen : defaultView(d));
    await this.select(d.views.includes(wanted) ? wanted : 'fields');
  }

  async select(view: RecordView, byUser = false): Promise<void> {
    const d = this.detail;
    if (!d) return;
    if (byUser) this.chosen = view;
    this.view = view;
    clear(this.tabs);
    for (const v of d.views) {
      const b = h(
        'button',
        {
          type: 'button',
          class: 'tab',
          role: 'tab',
          id: `tab-${v}`,
          'aria-selected': v === view ? 'true' : 'false',
          'aria-controls': `panel-${v}`,
          tabindex: v === view ? 0 : -1,
        },
        TAB_LABELS[v],
      );
      b.dataset.view = v;
      b.addEventListener('click', () => void this.select(v, true));
      this.tabs.appendChild(b);
    }
    for (const [k, p] of Object.entries(this.panels)) p.hidden = k !== view;
    if (view === 'addressSpace' && d.process !== undefined) await this.addressSpace.show(d.process, d.node.title === 'VMA' ? d.node.index : undefined);
    if (view === 'memory' && d.process !== undefined) {
      await this.memory.show(d.process, d.memoryRange, d.memoryRange ? BigInt(d.memoryRange.start) : undefined);
    }
    if (view === 'process' && d.process !== undefined) await this.process.show(d.process);
    if (view === 'text') await this.text.show(d.node.index);
    if (view === 'log') await this.log.show(d.node.index);
    if (view === 'files') await this.files.show(d.node.index);
  }

  private onTabKey(e: KeyboardEvent): void {
    const views = this.detail?.views ?? [];
    const i = views.indexOf(this.view);
    let next: number;
    if (e.key === 'ArrowRight') next = (i + 1) % views.length;
    else if (e.key === 'ArrowLeft') next = (i - 1 + views.length) % views.length;
    else return;
    e.preventDefault();
    void this.select(views[next], true).then(() => this.tabs.querySelector<HTMLElement>(`[data-view="${views[next]}"]`)?.focus());
  }
}

function defaultView(d: RecordDetailModel): RecordView {
  for (const v of ['log', 'files', 'text'] as const) if (d.views.includes(v)) return v;
  // A CRIU process is its pstree entry, whose own fields say little: its process view says more.
  if (d.node.title === 'PSTREE' && d.views.includes('process')) return 'process';
  if (d.node.title === 'PAGES') return 'memory';
  if (d.node.title === 'MM') return 'addressSpace';
  return 'fields';
}
