// What a person wants to know about an image first: which process, which threads, which
// command, which kernel and when, how big, and whether it is sound. Plain data (64-bit values
// as hex strings), so it can cross to the webview and into JSON as it is.

import { CheckpointImage } from './checkpointImage';
import { ImageError, ImageProblem } from './errors';
import { flagLabels, RecordType, enumLabel } from './format';
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
  let vmas = 0, fds = 0;
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
      processes.push(await summarizeProcess(img, r));
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
