// The image at a glance: which process (threads, command line), which kernel and when, how big,
// and whether it is sound: the verification state, with each problem linked to its record.

import type { EditorCommand } from '../../shared/protocol';
import type { ProblemModel, SummaryModel, VerificationModel } from '../../shared/models';
import { clear, formatBytes, h } from './dom';

export class SummaryView {
  readonly element: HTMLElement;
  private readonly facts: HTMLDivElement;
  private readonly verification: HTMLDivElement;
  private summary?: SummaryModel;

  constructor(
    private readonly onCommand: (c: EditorCommand) => void,
    private readonly onProblem: (record: number) => void,
  ) {
    this.facts = h('div', { class: 'summary-facts' });
    this.verification = h('div', { class: 'verification', 'aria-live': 'polite' });
    const actions = h(
      'div',
      { class: 'actions' },
      this.button('Verify', 'verify', 'Check every checksum and page hash of the image'),
      this.button('Restore', 'restore', 'Start a new process from this image'),
      this.button('Reveal in Records', 'revealInRecords', 'Show the selected record in the Image Records view'),
    );
    this.element = h('header', { class: 'summary', 'aria-label': 'Image summary' }, this.facts, h('div', { class: 'summary-side' }, this.verification, actions));
  }

  private button(label: string, command: EditorCommand, title: string): HTMLButtonElement {
    const b = h('button', { type: 'button', class: command === 'verify' ? 'secondary' : 'secondary', title }, label);
    b.dataset.command = command;
    b.addEventListener('click', () => this.onCommand(command));
    return b;
  }

  show(s: SummaryModel): void {
    this.summary = s;
    clear(this.facts);
    const p = s.processes[0];
    const title = h('h1', { class: 'summary-title' });
    if (p) {
      title.appendChild(h('span', { class: 'proc-name' }, p.comm));
      title.appendChild(h('span', { class: 'proc-pid' }, ` pid ${p.pid}`));
      if (s.processes.length > 1) title.appendChild(h('span', { class: 'dim' }, ` and ${s.processes.length - 1} more process${s.processes.length > 2 ? 'es' : ''}`));
    } else title.textContent = 'No process in this image';
    this.facts.appendChild(title);
    if (p) {
      const cmd = (p.cmdline.map(quoteArg).join(' ') || p.exe) + (p.cmdlineOmitted ? ` … (${p.cmdlineOmitted} more)` : '');
      this.facts.appendChild(h('div', { class: 'cmdline mono', title: cmd, 'aria-label': `Command line: ${cmd}` }, cmd));
    }

    const dl = h('dl', { class: 'facts' });
    const fact = (k: string, ...v: (Node | string)[]) => {
      dl.appendChild(h('dt', {}, k));
      dl.appendChild(h('dd', {}, ...v));
    };
    if (p) {
      fact('Threads', p.threads.length ? `${p.threads.length}: ${p.threads.map((t) => `${t.tid} ${t.comm}`).join(', ')}` : 'none recorded');
      fact('Memory', `${p.vmas} VMAs, ${formatBytes(p.dumpedBytes)} dumped, ${p.fds} open files`);
      fact('Executable', h('span', { class: 'mono' }, p.exe), p.cwd ? ` in ${p.cwd}` : '');
    }
    fact('Taken', `${localTime(s.time)} on ${s.hostname}${s.flags.length ? ` (${s.flags.map((f) => f.replace(/_/g, ' ')).join(', ')})` : ''}`);
    fact('Kernel', `${s.kernel} ${s.machine}`);
    fact('Image', `${formatBytes(s.size)}, ${s.records} records, format ${s.version}, by ${s.checkpointer}${s.complete ? '' : ' — incomplete (no tail)'}`);
    this.facts.appendChild(dl);
    const unsupported = s.processes.flatMap((x) => x.unsupported);
    if (unsupported.length) {
      this.facts.appendChild(h('div', { class: 'unsupported' }, h('strong', {}, 'Not captured: '), unsupported.join('; ')));
    }
    this.showVerification(s.verification);
  }

  showVerification(v: VerificationModel): void {
    clear(this.verification);
    const errors = v.problems.filter((p) => p.severity === 'error');
    let cls: string;
    let text: string;
    switch (v.status) {
      case 'running':
        cls = 'running';
        text = `Verifying… ${v.total ? Math.floor(((v.done ?? 0) / v.total) * 100) : 0}%`;
        break;
      case 'ok':
        cls = 'ok';
        text = `Verified: sound (${v.pagesChecked ?? 0} pages, ${formatBytes(v.bytesChecked ?? 0)} checked in ${v.ms ?? 0} ms)`;
        break;
      case 'damaged':
        cls = 'damaged';
        text = `Damaged: ${errors.length} problem${errors.length === 1 ? '' : 's'}`;
        break;
      case 'cancelled':
        cls = 'unverified';
        text = 'Verification cancelled';
        break;
      case 'failed':
        cls = 'damaged';
        text = `Verification failed: ${v.error ?? 'unknown error'}`;
        break;
      default:
        cls = errors.length ? 'damaged' : 'unverified';
        text = errors.length ? `Opened with ${errors.length} problem${errors.length === 1 ? '' : 's'}; page data not verified` : 'Headers sound; page data not verified yet';
    }
    this.verification.className = `verification ${cls}`;
    this.verification.appendChild(h('div', { class: 'verify-state' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), text));
    if (v.problems.length) {
      const list = h('ul', { class: 'problem-list' });
      for (const p of v.problems.slice(0, 50)) list.appendChild(this.problemItem(p));
      if (v.problems.length > 50) list.appendChild(h('li', { class: 'dim' }, `… ${v.problems.length - 50} more (see the Output channel)`));
      this.verification.appendChild(list);
    }
    if (this.summary) this.summary.verification = v;
  }

  private problemItem(p: ProblemModel): HTMLLIElement {
    const li = h('li', { class: p.severity });
    if (p.record !== undefined) {
      const a = h('button', { type: 'button', class: 'link', title: 'Show this record' }, `#${p.record}`);
      const record = p.record;
      a.addEventListener('click', () => this.onProblem(record));
      li.appendChild(a);
      li.appendChild(document.createTextNode(' '));
    }
    li.appendChild(document.createTextNode(p.message));
    return li;
  }
}

function quoteArg(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a);
}

function localTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}
