// A live process to checkpoint in tests of the extension: it prints "tick N" on stdout every 100 ms,
// with stdout a pipe to the test (an outside pipe, which restore reattaches to its --stdio file).
// Perl because every Debian has it and it is one single-threaded process without children; it
// first closes every fd it inherited but stdio, so that the image holds only what the test gave it.

import { ChildProcess, spawn } from 'child_process';
import { existsSync, readFileSync } from 'fs';

const SCRIPT = 'use POSIX (); POSIX::close($_) for 3..1023; $| = 1; my $i = 0; while (1) { print "tick $i\\n"; $i++; select(undef, undef, undef, 0.1); }';

export interface TickerOptions {
  /** MiB of touched heap (a string of "x"), so that a dump takes a while. */
  heapMiB?: number;
  /** A child that only sleeps, linked to the ticker by nothing but its birth. */
  sleepingChild?: boolean;
}

export interface Ticker {
  child: ChildProcess;
  pid: number;
  /** Everything printed so far. */
  output(): string;
  stop(): void;
}

/** Starts the ticker and resolves once it has printed its first line. */
export function startTicker(o: TickerOptions = {}): Promise<Ticker> {
  const heap = o.heapMiB ? `my $heap = "x" x (${o.heapMiB} << 20); ` : '';
  const sleeper = o.sleepingChild ? 'my $kid = fork(); if (defined $kid && $kid == 0) { sleep 1000 while 1; } ' : '';
  const child = spawn('perl', ['-e', heap + SCRIPT.replace('$| = 1;', `$| = 1; ${sleeper}`)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    // Touching a big heap first takes seconds here (a 1 GiB string: 3-13 s on this VM), more on a loaded machine.
    const waitMs = 15_000 + 20 * (o.heapMiB ?? 0);
    const timer = setTimeout(() => reject(new Error(`the ticker printed nothing within ${waitMs / 1000} s: ${out}`)), waitMs);
    child.once('error', reject);
    const check = () => {
      if (out.includes('tick 0')) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve({
          child,
          pid: child.pid!,
          output: () => out,
          stop: () => {
            for (const kid of workersOf(child.pid!)) killQuietly(kid);
            if (child.exitCode === null) child.kill('SIGKILL');
          },
        });
      }
    };
    child.stdout!.on('data', check);
  });
}

/**
 * A process tree to checkpoint: a perl parent with two worker children, which each write
 * "w<k> <n>" every 100 ms into one pipe they share (the write end, inherited from the parent); the
 * parent reads the pipe and prints "tick w<k> <n>". So the tree's output goes on only while the
 * pipe between its members does.
 */
const FAMILY = [
  'use POSIX (); POSIX::close($_) for 3..1023; $| = 1;',
  'pipe(my $r, my $w) or die "pipe: $!";',
  'for my $k (1, 2) { my $pid = fork(); die "fork: $!" unless defined $pid;',
  '  if ($pid == 0) { close $r; my $old = select($w); $| = 1; select($old); my $i = 0;',
  '    while (1) { print $w "w$k $i\n"; $i++; select(undef, undef, undef, 0.1); } } }',
  'close $w; while (my $l = <$r>) { print "tick $l"; }',
].join(' ');

export interface FamilyTicker extends Ticker {
  /** The two workers' PIDs. */
  workers: number[];
}

/** Starts the tree and resolves once both workers have been heard through the pipe. */
export async function startFamilyTicker(): Promise<FamilyTicker> {
  const child = spawn('perl', ['-e', FAMILY], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const stop = () => {
    // The workers first: they are not the test's children, and would outlive their parent.
    for (const w of workersOf(child.pid!)) killQuietly(w);
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  const deadline = Date.now() + 15_000;
  while (!(out.includes('tick w1') && out.includes('tick w2'))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      stop();
      throw new Error(`the family ticker did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, pid: child.pid!, workers: workersOf(child.pid!), output: () => out, stop };
}

/** The children of a process, from /proc/PID/task/PID/children. */
export function workersOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Kills a PID if it still exists. */
export function killQuietly(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

/** A PID that no process has right now (the highest free one below pid_max). */
export function unusedPid(): number {
  const max = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim());
  for (let p = max - 1; p > 300; p--) if (!existsSync(`/proc/${p}`)) return p;
  throw new Error('no free PID');
}
