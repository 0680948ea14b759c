// What a checkpoint says about its processes, whatever its format: the one model that the
// process view, the comparison of a CRIU checkpoint with a .ckpt image, and the converters between
// the formats work on. It follows CRIU's own model, which .ckpt's is a case of: a process tree
// (ppid), threads with their registers, open file descriptions (each once, with an id) that
// descriptors point at, signal dispositions and queues. Plain data; 64-bit values are BigInt.

/** x86-64 general-purpose registers in user_regs_struct order, by their kernel names. */
export const REGISTER_NAMES = [
  'r15',
  'r14',
  'r13',
  'r12',
  'rbp',
  'rbx',
  'r11',
  'r10',
  'r9',
  'r8',
  'rax',
  'rcx',
  'rdx',
  'rsi',
  'rdi',
  'orig_rax',
  'rip',
  'cs',
  'eflags',
  'rsp',
  'ss',
  'fs_base',
  'gs_base',
  'ds',
  'es',
  'fs',
  'gs',
] as const;
export type RegisterName = (typeof REGISTER_NAMES)[number];
export type Registers = Partial<Record<RegisterName, bigint>>;

export type FileKind = 'regular' | 'directory' | 'device' | 'pipe' | 'fifo' | 'socket' | 'eventfd' | 'epoll' | 'tty' | 'other';

export interface SocketState {
  /** 'unix', 'inet', 'inet6', or the family's number. */
  family: string;
  /** 'stream', 'dgram', 'seqpacket', ... */
  type: string;
  state: string;
  /** The socket's inode, and its peer's (unix), when known. */
  ino?: number;
  peer?: number;
  /** Addresses, as text ("127.0.0.1:8080", a unix path). */
  local?: string;
  remote?: string;
  /** Bytes queued to be read. */
  queued: number;
}

/** An open file description: what one or more descriptors (of one or more processes) refer to. */
export interface OpenFile {
  /** Its identity within the checkpoint (CRIU: its id in files.img). */
  id: string;
  kind: FileKind;
  /** A path for files, directories and FIFOs; "pipe:[ino]", "socket:[ino]" for the others. */
  path: string;
  /** open(2) flags. */
  flags: number;
  pos: bigint;
  pipe?: { ino: number; end?: 'read' | 'write'; buffered: number };
  socket?: SocketState;
  /** The record that describes it. */
  record?: number;
}

export interface FdState {
  fd: number;
  cloexec: boolean;
  file: OpenFile;
  /** The record that holds the descriptor. */
  record?: number;
}

export interface SigactionState {
  signo: number;
  handler: bigint;
  flags: bigint;
  restorer: bigint;
  mask: bigint;
}

export interface RlimitState {
  resource: string;
  cur: bigint;
  max: bigint;
}

export interface ThreadState {
  tid: number;
  comm: string;
  /** The record that holds it (.ckpt: THREAD; CRIU: its core entry). */
  record: number;
  regs: Registers;
  sigmask: bigint;
  /** Signals queued to this thread. */
  pending: number[];
}

export interface ProcessState {
  /** The record that stands for the process (.ckpt: PROCESS; CRIU: its pstree entry). */
  record: number;
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  comm: string;
  exe: string;
  cwd: string;
  root: string;
  /** Empty when the checkpoint does not say (a CRIU checkpoint whose stack was not dumped). */
  cmdline: string[];
  environ: string[];
  /** 'alive', 'stopped', 'zombie', 'dead'. */
  state: string;
  /** Real, effective, saved and filesystem ids. */
  uids: number[];
  gids: number[];
  umask?: number;
  threads: ThreadState[];
  fds: FdState[];
  /** Dispositions other than the default. */
  sigactions: SigactionState[];
  /** Signals queued to the process. */
  pending: number[];
  rlimits: RlimitState[];
}

/** The container a checkpoint was taken of, from its engine's files (Podman, CRI-O, containerd). */
export type { ContainerInfo } from '../criu/container';

export const RLIMIT_NAMES = ['cpu', 'fsize', 'data', 'stack', 'core', 'rss', 'nproc', 'nofile', 'memlock', 'as', 'locks', 'sigpending', 'msgqueue', 'nice', 'rtprio', 'rttime'];

/** Socket states as the kernel's sock_diag reports them (TCP's numbering, which unix sockets use too) and CRIU records them. */
const SOCKET_STATES = ['', 'established', 'syn_sent', 'syn_recv', 'fin_wait1', 'fin_wait2', 'time_wait', 'close', 'close_wait', 'last_ack', 'listen', 'closing'];

/** A socket state's name ("established"), or its number as text when it has none. */
export function socketStateName(n: number): string {
  return SOCKET_STATES[n] || String(n);
}
