// The members of a CRIU checkpoint archive that are not images: the engine's JSON (config.dump,
// spec.dump) as text, a log (CRIU's dump.log, the container's ctr.log) with its errors and warnings
// marked and a way to step through them, and the files of the rootfs diff, each of which opens
// read-only in an editor of its own. All text goes in through textContent.

import type { LogModel } from '../../shared/models';
import type { HostConnection } from './connection';
import { clear, formatBytes, h } from './dom';

export class TextView {
  readonly element = h('div', { class: 'member-view' });

  constructor(private readonly conn: HostConnection) {}

  async show(index: number): Promise<void> {
    const t = await this.conn.request('text', { index });
    clear(this.element);
    this.element.appendChild(h('div', { class: 'member-title' }, t.name, t.truncated ? h('span', { class: 'dim' }, ' (cut short)') : ''));
    this.element.appendChild(h('pre', { class: 'member-text mono', tabindex: 0 }, t.text));
  }
}

export class LogView {
  readonly element = h('div', { class: 'member-view' });
  private marks: HTMLElement[] = [];
  private at = -1;

  constructor(private readonly conn: HostConnection) {}

  async show(index: number): Promise<void> {
    this.draw(await this.conn.request('log', { index }));
  }

  private draw(log: LogModel): void {
    clear(this.element);
    const prev = h('button', { type: 'button', class: 'secondary', title: 'The error or warning before' }, 'Previous');
    const next = h('button', { type: 'button', class: 'secondary', title: 'The next error or warning' }, 'Next');
    prev.addEventListener('click', () => this.step(-1));
    next.addEventListener('click', () => this.step(1));
    const counts = `${log.errors} error${log.errors === 1 ? '' : 's'}, ${log.warnings} warning${log.warnings === 1 ? '' : 's'}`;
    this.element.appendChild(h('div', { class: 'member-title' }, `${log.name}: `, h('span', { class: log.errors ? 'log-count bad' : 'log-count' }, counts), ' ', prev, next));
    const body = h('div', { class: 'log-lines mono', role: 'log', tabindex: 0 });
    this.marks = [];
    for (const l of log.lines) {
      const row = h('div', { class: `log-line ${l.level}` }, h('span', { class: 'log-n' }, String(l.n)), l.text);
      if (l.level !== 'info') this.marks.push(row);
      body.appendChild(row);
    }
    if (log.more) body.appendChild(h('div', { class: 'dim' }, `… ${log.more} more lines`));
    this.element.appendChild(body);
    this.at = -1;
  }

  private step(by: number): void {
    if (!this.marks.length) return;
    this.marks[this.at]?.classList.remove('current');
    this.at = (this.at + by + this.marks.length) % this.marks.length;
    const row = this.marks[this.at];
    row.classList.add('current');
    row.scrollIntoView({ block: 'center' });
  }
}

export class FilesView {
  readonly element = h('div', { class: 'member-view' });

  constructor(
    private readonly conn: HostConnection,
    private readonly onOpen: (index: number, path: string) => void,
  ) {}

  async show(index: number): Promise<void> {
    const f = await this.conn.request('files', { index });
    clear(this.element);
    this.element.appendChild(h('div', { class: 'member-title' }, `${f.name}: ${f.files.length} entr${f.files.length === 1 ? 'y' : 'ies'}`, f.more ? ` (and ${f.more} more)` : ''));
    const body = h('tbody');
    for (const file of f.files) {
      const name = file.kind === 'file' ? h('button', { type: 'button', class: 'link mono', title: 'Open read-only' }, file.path) : h('span', { class: 'mono' }, file.path);
      if (file.kind === 'file') name.addEventListener('click', () => this.onOpen(index, file.path));
      body.appendChild(h('tr', {}, h('td', {}, name), h('td', {}, file.kind), h('td', {}, file.kind === 'file' ? formatBytes(file.size) : '')));
    }
    const head = h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'path'), h('th', { scope: 'col' }, 'kind'), h('th', { scope: 'col' }, 'size')));
    this.element.appendChild(h('div', { class: 'as-table-box' }, h('table', { class: 'as-table', 'aria-label': `Files of ${f.name}` }, head, body)));
  }
}
