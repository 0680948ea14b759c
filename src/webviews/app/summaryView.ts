// The checkpoint at a glance: which process (threads, command line), which kernel and when, how
// big, and whether it is sound: the verification state, with each problem linked to its record.
// For a CRIU checkpoint also the container it was taken of, its process tree, and links to its
// log, its rootfs diff and its engine's files.

import type { EditorCommand } from '../../shared/protocol';
import type { ProblemModel, ProcessModel, RecordView, SummaryModel, VerificationModel } from '../../shared/models';
import { clear, formatBytes, h } from './dom';
import { plural } from '../../shared/plural';

export class SummaryView {
  readonly element: HTMLElement;
  private readonly facts: HTMLDivElement;
  private readonly verification: HTMLDivElement;
  private summary?: SummaryModel;

  private readonly restoreButton: HTMLButtonElement;

  constructor(
    private readonly onCommand: (c: EditorCommand) => void,
    private readonly onProblem: (record: number, view?: RecordView) => void,
  ) {
    this.facts = h('div', { class: 'summary-facts' });
    this.verification = h('div', { class: 'verification', 'aria-live': 'polite' });
    const actions = h(
      'div',
      { class: 'actions' },
      this.button('Verify', 'verify', 'Check every checksum and page hash of the image'),
      (this.restoreButton = this.button('Restore', 'restore', 'Start a new process from this image')),
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
    const c = s.container;
    if (c) {
      fact('Container', h('span', { class: 'mono' }, c.name || '?'), ` (${c.engine}${c.runtime ? `, ${c.runtime}` : ''}${c.pod ? `, pod ${c.pod}${c.namespace ? ` in ${c.namespace}` : ''}` : ''})`);
      fact('Image', h('span', { class: 'mono' }, c.image || '?'), c.created ? `, created ${localTime(c.created)}` : '');
      fact('Command', h('span', { class: 'mono' }, c.command.map(quoteArg).join(' ') || '?'), c.cwd ? ` in ${c.cwd}` : '');
      if (c.env.length) {
        const env = h('details', { class: 'env' }, h('summary', {}, `${c.env.length} variables`), h('pre', { class: 'mono' }, c.env.join('\n')));
        fact('Environment', env);
      }
    }
    if (s.processes.length > 1) fact('Processes', this.processTree(s.processes));
    if (p) {
      fact('Threads', p.threads.length ? `${p.threads.length}: ${p.threads.map((t) => `${t.tid} ${t.comm}`).join(', ')}` : 'none recorded');
      fact('Memory', `${plural(p.vmas, 'VMA')}, ${formatBytes(p.dumpedBytes)} dumped, ${plural(p.fds, 'open file')}`);
      fact('Executable', h('span', { class: 'mono' }, p.exe), p.cwd ? ` in ${p.cwd}` : '');
    }
    fact('Taken', `${localTime(s.time)}${s.hostname ? ` on ${s.hostname}` : ''}${s.flags.length ? ` (${s.flags.map((f) => f.replace(/_/g, ' ')).join(', ')})` : ''}`);
    if (s.format === 'criu') fact('Machine', s.machine || s.arch);
    else fact('Kernel', `${s.kernel} ${s.machine}`);
    if (s.format === 'criu') fact('Checkpoint', `${formatBytes(s.size)}, ${plural(s.records, 'record')}, ${s.version}, by ${s.checkpointer}${s.complete ? '' : ' — with damaged files'}`);
    else fact('Image', `${formatBytes(s.size)}, ${plural(s.records, 'record')}, format ${s.version}, by ${s.checkpointer}${s.complete ? '' : ' — incomplete (no tail)'}`);
    if (s.extras.length) {
      const links = h('span', { class: 'extras' });
      for (const x of s.extras) {
        const b = h('button', { type: 'button', class: 'link', title: `Show ${x.name}` }, x.name);
        b.addEventListener('click', () => this.onProblem(x.index, x.kind));
        links.appendChild(b);
        links.appendChild(document.createTextNode(' '));
      }
      fact('Files', links);
    }
    this.facts.appendChild(dl);
    this.restoreButton.hidden = !s.restorable;
    const unsupported = s.processes.flatMap((x) => x.unsupported);
    if (unsupported.length) {
      this.facts.appendChild(h('div', { class: 'unsupported' }, h('strong', {}, 'Not captured: '), unsupported.join('; ')));
    }
    this.showVerification(s.verification);
  }

  /** The processes as a tree by ppid, each a link to its process view. */
  private processTree(list: ProcessModel[]): HTMLElement {
    const pids = new Set(list.map((p) => p.pid));
    const kids = new Map<number, ProcessModel[]>();
    for (const p of list) {
      const parent = pids.has(p.ppid) && p.ppid !== p.pid ? p.ppid : 0;
      const siblings = kids.get(parent);
      if (siblings)
        siblings.push(p); // not a copy per process: a hostile image has thousands under one parent
      else kids.set(parent, [p]);
    }
    const ul = (parent: number, depth: number): HTMLElement => {
      const el = h('ul', { class: 'proc-tree' });
      for (const p of kids.get(parent) ?? []) {
        const zombie = p.state === 'zombie';
        const b = h('button', { type: 'button', class: 'link', title: zombie ? 'Show the record of this exited child' : 'Show this process' }, `${p.pid} ${p.comm}`);
        b.addEventListener('click', () => this.onProblem(p.index, zombie ? 'fields' : 'process'));
        const what = zombie
          ? ` zombie, ${waitStatusText(p.exitStatus ?? 0)}, not reaped yet`
          : ` ${p.state === 'alive' ? '' : `${p.state}, `}${p.threads.length} thread${p.threads.length === 1 ? '' : 's'}, ${p.fds} fds`;
        const li = h('li', {}, b, h('span', { class: 'dim' }, what));
        if (depth < 64 && kids.has(p.pid)) li.appendChild(ul(p.pid, depth + 1));
        el.appendChild(li);
      }
      return el;
    };
    return ul(0, 0);
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
        text = `Verified: sound (${plural(v.pagesChecked ?? 0, 'page')}, ${formatBytes(v.bytesChecked ?? 0)} checked in ${v.ms ?? 0} ms)`;
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

/** A wait status (waitpid(2)) as words: "exited with 3", "killed by signal 9". */
function waitStatusText(status: number): string {
  const sig = status & 0x7f;
  if (sig === 0) return `exited with ${(status >> 8) & 0xff}`;
  return `killed by signal ${sig}${status & 0x80 ? ' (core dumped)' : ''}`;
}
