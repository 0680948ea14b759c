// A one-line description of each record, from its decoded payload: what the CLI's tree, the
// editor's record list and the Records view show beside the record type. Large payloads are
// summarised (counts and sizes), never dumped.

import { CheckpointImage } from './checkpointImage';
import { ImageError } from './errors';
import { bytesToHex, hex } from './fields';
import { Ckpt, enumLabel, recordTypeName, RecordType } from './format';
import { protString } from './memoryMap';
import { RecordEntry } from './recordIndex';
import { socketName } from './socketText';
import { quote } from './text';
import { plural } from '../shared/plural';
import { formatBytes } from '../shared/units';

export { formatBytes };

export interface RecordDescription {
  /** e.g. "VMA" */
  title: string;
  /** e.g. "0x7f1c2000-0x7f1c4000 r-xp /usr/lib/libc.so.6" */
  detail: string;
  /** Set when the payload could not be decoded. */
  error?: string;
}

/** "1.5 s", "250 ms", "7 us": a duration in ns (a BigInt), rounded for reading. */
export function nsText(ns: bigint): string {
  if (ns >= 1000000000n) return `${(Number(ns / 1000000n) / 1000).toFixed(3)} s`;
  if (ns >= 1000000n) return `${(Number(ns / 1000n) / 1000).toFixed(3)} ms`;
  return `${Number(ns) / 1000} us`;
}

/** "status 3" or "killed by SIGSEGV": a wait(2) status as people say it. */
export function exitText(status: number): string {
  const sig = status & 0x7f;
  if (sig === 0) return `status ${(status >> 8) & 0xff}`;
  return `killed by ${(enumLabel('signal', sig) ?? `signal ${sig}`).toUpperCase()}${status & 0x80 ? ' (core dumped)' : ''}`;
}

/** An open file description in a few words: kind, path, position, bytes held. */
async function fileDetail(img: CheckpointImage, r: RecordEntry): Promise<string> {
  const f = await img.decodeAs(r, 'file');
  const kind = enumLabel('fd_kind', f.kind) ?? `kind ${f.kind}`;
  let extra = '';
  if (kind === 'regular') extra = ` pos ${f.pos}`;
  const x = f.extra as { data?: { len: number }; queued?: { len: number } } | Uint8Array;
  const held = x instanceof Uint8Array ? 0 : (x?.data?.len ?? x?.queued?.len ?? 0);
  if (held) extra = `, ${formatBytes(held)} buffered`;
  // a socket by its addresses and peer (format 2.1), which say more than its inode
  if (f.kind === Ckpt.FdKind.SOCKET && !(x instanceof Uint8Array) && (x as Ckpt.FdSocket).details) return `${kind} ${socketName(x as Ckpt.FdSocket)}${extra}`;
  return `${kind} ${quote(f.path.value)}${extra}`;
}

/** ", shared with pid 12 fd 3, ..." for a description that more than this fd (or no fd) refers to. */
async function sharedWith(img: CheckpointImage, file: RecordEntry, self?: RecordEntry): Promise<string> {
  const holders = (await img.holdersOf(file.tag)).filter((h) => h.fdRecord !== self);
  if (!holders.length) return self ? '' : ', held by no fd';
  const names: string[] = [];
  for (const h of holders.slice(0, 4)) {
    const p = await img.decodeAs(h.process, 'process');
    names.push(`pid ${p.pid} fd ${h.fd}`);
  }
  return `, ${self ? 'shared with' : 'held by'} ${names.join(', ')}${holders.length > 4 ? ` and ${holders.length - 4} more` : ''}`;
}

export async function describeRecord(img: CheckpointImage, r: RecordEntry): Promise<RecordDescription> {
  const title = recordTypeName(r.type);
  try {
    return { title, detail: await detailOf(img, r) };
  } catch (e) {
    if (!(e instanceof ImageError)) throw e;
    return { title, detail: 'cannot be decoded', error: e.message };
  }
}

async function detailOf(img: CheckpointImage, r: RecordEntry): Promise<string> {
  switch (r.type) {
    case RecordType.HEAD: {
      const h = await img.decodeAs(r, 'head');
      return `format ${h.versionMajor}.${h.versionMinor}, ${h.sysname.value} ${h.release.value} ${h.machine.value}, host ${quote(h.nodename.value)}, by ${h.checkpointer.value}`;
    }
    case RecordType.TAIL: {
      const t = await img.decodeAs(r, 'tail');
      return `${plural(t.recordCount, 'record')} before it`;
    }
    case RecordType.PAD:
      return `${r.len} bytes of padding`;
    case RecordType.PROCESS: {
      const p = await img.decodeAs(r, 'process');
      return `pid ${p.pid} ${quote(p.comm.value)} ${p.exe.value}, ${plural(p.nthreads, 'thread')}`;
    }
    case RecordType.THREAD: {
      const t = await img.decodeAs(r, 'thread');
      return `tid ${t.tid} ${quote(t.comm.value)} rip ${hex(t.regs.rip)} rsp ${hex(t.regs.rsp)}`;
    }
    case RecordType.MM: {
      const m = await img.decodeAs(r, 'mm');
      return `${plural(m.nvmas, 'VMA')}, brk ${hex(m.brk)}, ${plural(m.nauxv, 'auxv entry', 'auxv entries')}`;
    }
    case RecordType.VMA: {
      const v = await img.decodeAs(r, 'vma');
      return `${hex(v.start)}-${hex(v.end)} ${protString(v.prot, v.flags)} ${enumLabel('vma_kind', v.kind) ?? v.kind}${v.path.value ? ` ${v.path.value}` : ''}`;
    }
    case RecordType.PAGEMAP: {
      const p = await img.decodeAs(r, 'pagemap');
      return `${p.nruns} run${p.nruns === 1 ? '' : 's'}, ${p.npages} pages (${formatBytes(p.npages * img.pageSize)})`;
    }
    case RecordType.PAGES:
      return `${formatBytes(r.len)} of page data`;
    case RecordType.PAGES_ZSTD:
      return `${formatBytes(r.len)} of page data, zstd-compressed`;
    case RecordType.FILES: {
      const f = await img.decodeAs(r, 'files');
      return `${f.nfds} open fd${f.nfds === 1 ? '' : 's'}`;
    }
    case RecordType.FD: {
      const f = await img.decodeAs(r, 'fd');
      const file = img.fileRecord(f);
      const what = file ? await fileDetail(img, file) : `file tag ${f.file} (not in the image)`;
      return `fd ${f.fd} ${what}${f.fdFlags & 1 ? ' (cloexec)' : ''}${file ? await sharedWith(img, file, r) : ''}`;
    }
    case RecordType.FILE:
      return `${await fileDetail(img, r)}${await sharedWith(img, r)}`;
    case RecordType.ZOMBIE: {
      const z = await img.decodeAs(r, 'zombie');
      return `pid ${z.pid} ${quote(z.comm.value)} exited, ${exitText(z.exitStatus)}, not reaped yet`;
    }
    case RecordType.TIMERS: {
      const t = await img.decodeAs(r, 'timers');
      const armed = t.itimers.map((it, i) => (it.valueNs ? `${enumLabel('itimer_which', i) ?? i} ${nsText(it.valueNs)}` : '')).filter(Boolean);
      return `itimers ${armed.length ? armed.join(', ') : 'not armed'}; timer slack ${t.timerSlackNs} ns`;
    }
    case RecordType.POSIX_TIMER: {
      const t = await img.decodeAs(r, 'posix_timer');
      const how = t.notify === 1 ? 'no signal' : `${(enumLabel('signal', t.signo) ?? `signal ${t.signo}`).toUpperCase()}${t.targetTid ? ` to thread ${t.targetTid}` : ''}`;
      return `id ${t.id} ${enumLabel('clock_id', t.clockId) ?? `clock ${t.clockId}`}, ${how}, ${t.valueNs ? `${nsText(t.valueNs)} left` : 'disarmed'}${t.intervalNs ? ` every ${nsText(t.intervalNs)}` : ''}`;
    }
    case RecordType.PROCESS_ATTRS: {
      const a = await img.decodeAs(r, 'process_attrs');
      return `oom_score_adj ${a.oomScoreAdj}${a.pdeathsig ? `, pdeathsig ${(enumLabel('signal', a.pdeathsig) ?? a.pdeathsig).toString().toUpperCase()}` : ''}${a.thpDisable ? ', THP disabled' : ''}${a.childSubreaper ? ', child subreaper' : ''}`;
    }
    case RecordType.SIGACTIONS: {
      const s = await img.decodeAs(r, 'sigactions');
      const set = s.actions.filter((a) => a.handler !== 0n).length;
      return `${set} of ${s.count} signals with a handler or ignored`;
    }
    case RecordType.PENDING_SIGNALS: {
      const p = await img.decodeAs(r, 'pending_signals');
      const names = p.signals.map((s) => (enumLabel('signal', s.siSigno) ?? `signal ${s.siSigno}`).toUpperCase());
      return `${p.count} queued${names.length ? `: ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', ...' : ''}` : ''}`;
    }
    case RecordType.UNSUPPORTED: {
      const u = await img.decodeAs(r, 'unsupported');
      return `${enumLabel('unsupported_kind', u.what) ?? 'other'}: ${u.detail.value} (${u.reason.value})`;
    }
    case RecordType.FILE_CONTENT: {
      const c = await img.decodeAs(r, 'file_content');
      const what = c.flags & 1 ? `memfd ${quote(c.name.value)}` : `${c.flags & 2 ? 'O_TMPFILE file' : 'unlinked file'} of ${quote(c.name.value)}`;
      return `${what}, ${formatBytes(Number(c.size))} with ${formatBytes(Number(c.dataBytes))} of data in ${c.nextents} extent${c.nextents === 1 ? '' : 's'}${c.seals ? `, seals ${hex(c.seals)}` : ''}`;
    }
    case RecordType.FILE_EXTENT: {
      const x = await img.decodeAs(r, 'file_extent');
      return `${formatBytes(Number(x.len))} at offset ${x.offset}, ${x.npages} page${x.npages === 1 ? '' : 's'}`;
    }
    case RecordType.FILE_DATA:
      return `${formatBytes(r.len)} of file data`;
    case RecordType.FILE_LOCK: {
      const l = await img.decodeAs(r, 'file_lock');
      const kind = enumLabel('lock_kind', l.kind) ?? `kind ${l.kind}`;
      const range = l.kind === 1 ? '' : l.len === 0n ? ` from byte ${l.start} to the end` : ` on bytes ${l.start}-${l.start + l.len - 1n}`;
      return `${kind} ${enumLabel('lock_type', l.type) ?? l.type} lock${range}${l.pid ? ` held by pid ${l.pid}` : ''}`;
    }
    case RecordType.BUILD_ID: {
      const b = await img.decodeAs(r, 'build_id');
      return `GNU build-id ${bytesToHex(b.id)} (read from ${enumLabel('build_id_source', b.source)?.replace('_', ' ') ?? `source ${b.source}`})`;
    }
    default:
      return `unknown record type ${r.type}, ${formatBytes(r.len)}`;
  }
}
