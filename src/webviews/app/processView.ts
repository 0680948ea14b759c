// A process as the checkpoint knows it, for either format: who it is, its threads with their
// registers, its descriptors (what each refers to, at which position), its sockets, and its signal
// handlers. Rows that stand for a record (a thread, a descriptor) select it when clicked. Each
// thread has its backtrace, unwound by the host when its section is first open.

import type { FdModel, ProcessDetailModel, ThreadDetailModel } from '../../shared/models';
import { backtraceSection, OPEN_BACKTRACES } from './backtraceView';
import type { HostConnection } from './connection';
import { clear, h } from './dom';

function table(caption: string, columns: string[], rows: (string | Node)[][], onRow?: (i: number) => void): HTMLElement {
  const body = h('tbody');
  rows.forEach((cells, i) => {
    const tr = h('tr', {}, ...cells.map((c) => h('td', {}, c)));
    if (onRow) {
      tr.classList.add('clickable');
      tr.addEventListener('click', () => onRow(i));
    }
    body.appendChild(tr);
  });
  return h(
    'div',
    { class: 'pv-section' },
    h('h3', {}, caption),
    h('table', { class: 'as-table pv-table', 'aria-label': caption }, h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', { scope: 'col' }, c)))), body),
  );
}

function registers(t: ThreadDetailModel): HTMLElement {
  const grid = h('div', { class: 'pv-regs mono', 'aria-label': `Registers of thread ${t.tid}` });
  for (const r of t.registers) grid.appendChild(h('span', { class: 'pv-reg' }, h('span', { class: 'dim' }, `${r.name} `), r.value));
  return grid;
}

export class ProcessView {
  readonly element = h('div', { class: 'process-view' });

  constructor(
    private readonly conn: HostConnection,
    private readonly onRecord: (index: number) => void,
  ) {}

  async show(process: number): Promise<void> {
    const p = await this.conn.request('process', { process });
    this.draw(p);
  }

  /** Who else holds the open file description: this process's other fds, and other processes' (links to them). */
  private sharers(p: ProcessDetailModel, f: FdModel): string | Node {
    if (!f.sharedWith.length) return h('span', { class: 'dim' }, 'not shared');
    const cell = h('span', { class: 'pv-sharers' });
    f.sharedWith.forEach((x, i) => {
      if (i) cell.appendChild(document.createTextNode(', '));
      if (x.process === p.process) {
        cell.appendChild(document.createTextNode(`fd ${x.fd} here`));
        return;
      }
      const b = h('button', { type: 'button', class: 'link', title: `Show process ${x.pid}` }, `${x.pid} ${x.comm} fd ${x.fd}`);
      b.addEventListener('click', (e) => {
        e.stopPropagation(); // not the row's own click, which shows this fd's record
        this.onRecord(x.process);
      });
      cell.appendChild(b);
    });
    if (f.sharedMore) cell.appendChild(document.createTextNode(` and ${f.sharedMore} more`));
    return cell;
  }

  private draw(p: ProcessDetailModel): void {
    clear(this.element);
    const id = h('div', { class: 'pv-head' });
    id.appendChild(h('h2', {}, h('span', { class: 'proc-name' }, p.comm), ` pid ${p.pid}`));
    id.appendChild(h('div', { class: 'dim' }, `parent ${p.ppid}, group ${p.pgid}, session ${p.sid}; ${p.state}; uid ${p.uids.join('/') || '?'}`));
    if (p.exe || p.cwd) id.appendChild(h('div', {}, h('span', { class: 'mono' }, p.exe), p.cwd ? ` in ${p.cwd}` : ''));
    if (p.cmdline.length)
      id.appendChild(
        h('div', { class: 'cmdline mono' }, p.cmdline.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ') + (p.cmdlineOmitted ? ` … (${p.cmdlineOmitted} more)` : '')),
      );
    this.element.appendChild(id);

    const threads = h('div', { class: 'pv-section' }, h('h3', {}, `Threads (${p.threads.length})`));
    p.threads.forEach((t, i) => {
      const head = h('button', { type: 'button', class: 'link pv-thread', title: 'Show the record of this thread' }, `${t.tid} ${JSON.stringify(t.comm)}`);
      head.addEventListener('click', () => this.onRecord(t.record));
      const extra = `sigmask ${t.sigmask}${t.pending.length ? `, pending ${t.pending.join(' ')}` : ''}`;
      const trace = backtraceSection(
        'Backtrace',
        i < OPEN_BACKTRACES,
        () => this.conn.request('backtrace', { process: p.process, tid: t.tid }),
        (frame) => this.conn.send({ type: 'openFrame', process: p.process, tid: t.tid, frame }),
      );
      threads.appendChild(h('div', { class: 'pv-thread-row', 'data-tid': t.tid }, head, h('span', { class: 'dim' }, ` ${extra}`), registers(t), trace));
    });
    this.element.appendChild(threads);

    const fds = p.fds;
    this.element.appendChild(
      table(
        `Files and descriptors (${fds.length})`,
        ['fd', 'kind', 'what', 'flags', 'pos', 'shares', 'detail'],
        fds.map((f) => [String(f.fd) + (f.cloexec ? ' (cloexec)' : ''), f.kind, h('span', { class: 'mono' }, f.path), f.flags, f.pos, this.sharers(p, f), f.detail]),
        (i) => {
          if (fds[i].record !== undefined) this.onRecord(fds[i].record!);
        },
      ),
    );
    if (p.sockets.length) {
      this.element.appendChild(
        table(
          `Sockets (${p.sockets.length})`,
          ['fd', 'family', 'type', 'state', 'local', 'remote', 'queued'],
          p.sockets.map((s) => [String(s.fd), s.family, s.type, s.state, s.local, s.remote, `${s.queued} bytes`]),
        ),
      );
    }
    this.element.appendChild(
      p.sigactions.length
        ? table(
            `Signal handlers (${p.sigactions.length} not default)`,
            ['signal', 'handler', 'flags', 'mask'],
            p.sigactions.map((a) => [a.signal, a.handler, a.flags, a.mask]),
          )
        : h('div', { class: 'pv-section' }, h('h3', {}, 'Signal handlers'), h('div', { class: 'dim' }, 'every signal has its default action')),
    );
    if (p.pending.length) this.element.appendChild(h('div', { class: 'pv-section' }, h('h3', {}, 'Pending signals'), p.pending.join(' ')));
  }
}
