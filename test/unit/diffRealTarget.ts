// A real process for the diff and search tests, checkpointed with the native checkpointer
// (dist/bin/ckpt, or CKPT_BIN). The target maps six pages, plants known strings in them (one
// across the boundary of pages 0 and 1, one in UTF-16LE), prints their addresses as JSON, and
// then waits on stdin; each "change" line rewrites page 2 (the known buffer) and nothing else.
//
// So that two checkpoints differ only where the test says, the target: writes through write(2),
// never stdio (whose buffers live in the heap); builds the strings in place from encoded bytes
// (so no copy sits in .rodata or on the stack); scrubs its dead stack before every wait and
// binds its symbols at start; and is pinned to one CPU (the kernel writes the current CPU into
// the thread's rseq area).

import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CKPT = path.resolve(__dirname, '..', '..', process.env.CKPT_BIN || 'dist/bin/ckpt');

export const ACROSS = 'CKPT-PLANTED-ACROSS-A-PAGE-BOUNDARY';
export const WIDE = 'Grüße aus dem Prozess';

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The planted strings, each byte plus one, so that the program's files do not hold them. */
static const unsigned char across_enc[] = { ACROSS_ENC };
static const unsigned char wide_enc[] = { WIDE_ENC };

static void say(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(1, s, n);
		if (w <= 0)
			_exit(3);
		s += w, n -= (size_t)w;
	}
}

/* Zero the stack below the caller, so dead frames hold the same bytes at every checkpoint. */
static __attribute__((noinline)) void scrub(void)
{
	volatile unsigned char pad[32768];
	memset((void *)pad, 0, sizeof pad);
	__asm__ volatile("" ::"r"(pad) : "memory");
}

int main(void)
{
	/* Descriptors inherited from the test runner (pipes to its parents) are not ours to keep. */
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	long ps = sysconf(_SC_PAGESIZE);
	unsigned char *m = mmap(NULL, 6 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 1;
	for (long i = 0; i < 6 * ps; i += ps)
		m[i + 7] = 1; /* every page touched, so every page is dumped */
	unsigned char *across = m + ps - 10;
	for (size_t i = 0; i < sizeof across_enc; i++)
		across[i] = (unsigned char)(across_enc[i] - 1);
	unsigned char *wide = m + 3 * ps + 101;
	for (size_t i = 0; i < sizeof wide_enc; i++)
		wide[i] = (unsigned char)(wide_enc[i] - 1);
	unsigned char *buffer = m + 2 * ps;
	char line[256];
	int n = snprintf(line, sizeof line, "{\"map\":\"%p\",\"across\":\"%p\",\"wide\":\"%p\",\"buffer\":\"%p\",\"page\":%ld}\n",
			 (void *)m, (void *)across, (void *)wide, (void *)buffer, ps);
	say(line, (size_t)n);
	memset(line, 0, sizeof line);
	for (;;) {
		char cmd[64];
		scrub();
		ssize_t r = read(0, cmd, sizeof cmd);
		if (r <= 0)
			return 0;
		/* Always the same new content: no counter that a register or the stack would keep. */
		for (long i = 0; i < ps; i++)
			buffer[i] = (unsigned char)(0xa5 ^ (i * 31));
		memset(cmd, 0, sizeof cmd);
		say("ok\n", 3);
	}
}
`;

const encode = (b: Buffer) => Array.from(b, (x) => x + 1).join(', ');

/** Where the target planted what, as it printed it. */
export interface Planted {
  map: bigint;
  across: bigint;
  wide: bigint;
  buffer: bigint;
  page: number;
}

export interface RealTarget {
  pid: number;
  planted: Planted;
  /** Rewrite the buffer page and wait until the target says it is done. */
  change(): Promise<void>;
  /** Checkpoint it (left running) into `file`. */
  dump(file: string): void;
  stop(): void;
}

/** Why real-process tests cannot run here, or undefined when they can. */
export function realTargetUnavailable(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return 'the native checkpointer is for x86_64 Linux';
  if (!fs.existsSync(CKPT)) return `${CKPT} is not built (npm run build:native)`;
  if (spawnSync('cc', ['--version']).status !== 0) return 'no C compiler';
  if (spawnSync('taskset', ['-c', '0', 'true']).status !== 0) return 'no taskset (util-linux) to pin the target to one CPU';
  return undefined;
}

/** Build the target program into `dir`. */
export function buildTarget(dir: string): string {
  const src = path.join(dir, 'planter.c');
  const bin = path.join(dir, 'planter');
  fs.writeFileSync(src, SOURCE.replace('ACROSS_ENC', encode(Buffer.from(ACROSS))).replace('WIDE_ENC', encode(Buffer.from(WIDE, 'utf16le'))));
  // -z now: the lazy binding of read() on its first call would leave the resolver's saved
  // registers on the stack, below the frames that scrub() cleans.
  const r = spawnSync('cc', ['-O1', '-Wall', '-Werror', '-Wl,-z,now', '-o', bin, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot build the target: ${r.stderr}`);
  return bin;
}

function lines(child: ChildProcess): () => Promise<string> {
  let buf = '';
  const waiting: ((l: string) => void)[] = [];
  const ready: string[] = [];
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiting.shift();
      if (w) w(l);
      else ready.push(l);
    }
  });
  return () =>
    new Promise((resolve, reject) => {
      const l = ready.shift();
      if (l !== undefined) return resolve(l);
      const timer = setTimeout(() => reject(new Error('the target did not answer within 10 s')), 10_000);
      waiting.push((x) => {
        clearTimeout(timer);
        resolve(x);
      });
    });
}

/** Start the target, pinned to the CPU this process may run on first. */
export async function startTarget(bin: string): Promise<RealTarget> {
  const cpu = String(os.cpus().length > 1 ? 1 : 0);
  const child = spawn('taskset', ['-c', cpu, bin], { stdio: ['pipe', 'pipe', 'inherit'] });
  const next = lines(child);
  const p = JSON.parse(await next()) as Record<string, string | number>;
  const planted: Planted = { map: BigInt(p.map), across: BigInt(p.across), wide: BigInt(p.wide), buffer: BigInt(p.buffer), page: Number(p.page) };
  return {
    pid: child.pid!,
    planted,
    async change() {
      child.stdin!.write('change\n');
      const l = await next();
      if (l !== 'ok') throw new Error(`the target said ${JSON.stringify(l)}`);
    },
    dump(file: string) {
      const r = spawnSync(CKPT, ['dump', String(child.pid), '-o', file], { encoding: 'utf8', timeout: 30_000 });
      if (r.status !== 0) throw new Error(`ckpt dump failed (${r.status ?? r.signal}): ${r.stderr}`);
    },
    stop() {
      child.kill('SIGKILL');
    },
  };
}
