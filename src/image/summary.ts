// What a person wants to know about an image first: which process, which threads, which
// command, which kernel and when, how big, and whether it is sound. Plain data (64-bit values
// as hex strings), so it can cross to the webview and into JSON as it is.

import { CheckpointImage } from './checkpointImage';
import { ImageError, ImageProblem } from './errors';
import { Ckpt, flagLabels, RecordType, enumLabel } from './format';
import { hex, MAX_SHOWN_STRINGS, nulStrings } from './fields';
import { RecordEntry } from './recordIndex';

export interface ThreadSummary {
  tag: number;
  tid: number;
  comm: string;
  /** Instruction and stack pointers, as hex strings. */
  rip: string;
  rsp: string;
}

export interface ProcessSummary {
  tag: number;
  pid: number;
  ppid: number;
  comm: string;
  /** 'alive', 'stopped', 'zombie' (exited, not reaped yet: see exitStatus) or 'dead'. */
  state: string;
  /** A zombie's wait status, as waitpid(2) gives it to its parent. */
  exitStatus?: number;
  exe: string;
  cwd: string;
  /** The first MAX_SHOWN_STRINGS arguments; the process record's fields hold them all. */
  cmdline: string[];
  /** Arguments left out of `cmdline`. */
  cmdlineOmitted: number;
  uid: number;
  threads: ThreadSummary[];
  vmas: number;
  dumpedPages: number;
  dumpedBytes: number;
  fds: number;
  unsupported: string[];
}

export interface ImageSummary {
  name: string;
  size: number;
  records: number;
  version: string;
  arch: string;
  pageSize: number;
  sysname: string;
  hostname: string;
  kernel: string;
  kernelVersion: string;
  machine: string;
  checkpointer: string;
  /** ISO 8601 time of the checkpoint, and the exact ns since the epoch as a string. */
  time: string;
  timeNs: string;
  flags: string[];
  complete: boolean;
  processes: ProcessSummary[];
  problems: ImageProblem[];
}

const PROCESS_STATES: Record<string, string> = { R: 'alive', S: 'alive', D: 'alive', I: 'alive', T: 'stopped', t: 'stopped', Z: 'zombie', X: 'dead' };

/** What a process record says of the process's state: its state letter, and the stopped flag a dump sets for a SIGSTOPped member. */
export function processState(p: Ckpt.Process): string {
  if (p.flags & Ckpt.ProcessFlags.STOPPED) return 'stopped';
  const letter = String.fromCharCode(p.state);
  return PROCESS_STATES[letter] ?? letter;
}

/** The exited children of a process that it had not reaped: members of the tree in the summary too. */
async function summarizeZombies(img: CheckpointImage, parent: RecordEntry, ppid: number): Promise<ProcessSummary[]> {
  const out: ProcessSummary[] = [];
  for (const z of img.childrenOfType(parent, RecordType.ZOMBIE)) {
    try {
      const d = await img.decodeAs(z, 'zombie');
      out.push({
        tag: z.tag,
        pid: d.pid,
        ppid,
        comm: d.comm.value,
        state: 'zombie',
        exitStatus: d.exitStatus,
        exe: '',
        cwd: '',
        cmdline: [],
        cmdlineOmitted: 0,
        uid: 0,
        threads: [],
        vmas: 0,
        dumpedPages: 0,
        dumpedBytes: 0,
        fds: 0,
        unsupported: [],
      });
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
    }
  }
  return out;
}

async function summarizeProcess(img: CheckpointImage, r: RecordEntry): Promise<ProcessSummary> {
  const p = await img.decodeAs(r, 'process');
  const threads: ThreadSummary[] = [];
  for (const t of img.childrenOfType(r, RecordType.THREAD)) {
    try {
      const th = await img.decodeAs(t, 'thread');
      threads.push({ tag: t.tag, tid: th.tid, comm: th.comm.value, rip: hex(th.regs.rip), rsp: hex(th.regs.rsp) });
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
    }
  }
  let vmas = 0,
    fds = 0;
  for (const mm of img.childrenOfType(r, RecordType.MM)) vmas += img.childrenOfType(mm, RecordType.VMA).length;
  for (const f of img.childrenOfType(r, RecordType.FILES)) fds += img.childrenOfType(f, RecordType.FD).length;
  const unsupported: string[] = [];
  for (const u of img.childrenOfType(r, RecordType.UNSUPPORTED)) {
    try {
      const un = await img.decodeAs(u, 'unsupported');
      unsupported.push(`${enumLabel('unsupported_kind', un.what) ?? 'other'}: ${un.detail.value} (${un.reason.value})`);
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
    }
  }
  let dumpedBytes = 0;
  try {
    dumpedBytes = (await img.memory(r)).dumpedBytes;
  } catch (e) {
    if (!(e instanceof ImageError)) throw e;
  }
  const cmdline: string[] = [];
  let cmdlineOmitted = 0;
  for (const arg of nulStrings(p.cmdline.value)) {
    if (cmdline.length < MAX_SHOWN_STRINGS) cmdline.push(arg);
    else cmdlineOmitted++;
  }
  return {
    tag: r.tag,
    pid: p.pid,
    ppid: p.ppid,
    comm: p.comm.value,
    state: processState(p),
    exe: p.exe.value,
    cwd: p.cwd.value,
    cmdline,
    cmdlineOmitted,
    uid: p.uids[0],
    threads,
    vmas,
    dumpedPages: dumpedBytes / img.pageSize,
    dumpedBytes,
    fds,
    unsupported,
  };
}

export async function summarizeImage(img: CheckpointImage): Promise<ImageSummary> {
  const h = img.head;
  const processes: ProcessSummary[] = [];
  for (const r of img.processes()) {
    try {
      const p = await summarizeProcess(img, r);
      processes.push(p, ...(await summarizeZombies(img, r, p.pid)));
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
    }
  }
  const ms = h.timeNs / 1000000n;
  return {
    name: img.source.name,
    size: img.source.size,
    records: img.records.length,
    version: `${h.versionMajor}.${h.versionMinor}`,
    arch: enumLabel('arch', h.arch) ?? `machine ${h.arch}`,
    pageSize: h.pageSize,
    sysname: h.sysname.value,
    hostname: h.nodename.value,
    kernel: h.release.value,
    kernelVersion: h.version.value,
    machine: h.machine.value,
    checkpointer: h.checkpointer.value,
    time: ms <= 8640000000000000n ? new Date(Number(ms)).toISOString() : 'out of range',
    timeNs: h.timeNs.toString(),
    flags: flagLabels('image_flags', h.flags),
    complete: img.complete,
    processes,
    problems: img.problems,
  };
}
