import assert from 'node:assert/strict';
import { spawn } from 'child_process';
import { readdirSync, readFileSync } from 'fs';
import { buildProcessForest, isAlive, isKernelThread, matchesFilter, parseCmdline, parsePasswd, parseStat, parseStatus, ProcessInfo, readProcesses } from '../../src/processes/procfs';
import { fakeProcess } from '../support/processInfo';

const proc = (pid: number, ppid: number, comm = `p${pid}`, extra: Partial<ProcessInfo> = {}): ProcessInfo => fakeProcess(pid, ppid, { comm, ...extra });

describe('procfs: parsing', () => {
  it('reads /proc/PID/stat with a comm that holds spaces and parentheses', () => {
    const line = '4242 (my (odd) name) S 1 4242 4200 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 3 0 987654 12345678 512 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0';
    const s = parseStat(line)!;
    assert.equal(s.pid, 4242);
    assert.equal(s.comm, 'my (odd) name');
    assert.equal(s.state, 'S');
    assert.equal(s.ppid, 1);
    assert.equal(s.threads, 3);
    assert.equal(s.startTime, 987654);
    assert.equal(s.rssPages, 512);
    assert.equal(isKernelThread(s), false);
    assert.equal(parseStat('garbage'), undefined);
  });

  it('knows kernel threads by their flag', () => {
    const kt = parseStat('17 (kworker/0:1) I 2 0 0 0 -1 69238880 0 0 0 0 0 0 0 0 20 0 1 0 30 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 0 0 0 0 0 0')!;
    assert.equal(isKernelThread(kt), true);
  });

  it('reads uid, resident size and threads from /proc/PID/status', () => {
    const st = parseStatus('Name:\tx\nUid:\t1000\t1000\t1000\t1000\nThreads:\t4\nVmRSS:\t   2048 kB\n');
    assert.deepEqual(st, { uids: [1000, 1000, 1000, 1000], vmRssKiB: 2048, threads: 4 });
    assert.deepEqual(parseStatus('Uid:\t0\t0\t0\t0\n'), { uids: [0, 0, 0, 0] });
  });

  it('maps uids to names and splits command lines', () => {
    const users = parsePasswd('root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n\nbroken\n');
    assert.equal(users.get(0), 'root');
    assert.equal(users.get(1000), 'alice');
    assert.deepEqual(parseCmdline(Buffer.from('python3\0-c\0print(1)\0')), ['python3', '-c', 'print(1)']);
    assert.deepEqual(parseCmdline(Buffer.alloc(0)), []);
  });
});

describe('procfs: the process tree', () => {
  it('hangs a process under its nearest listed ancestor', () => {
    const all = [proc(1, 0, 'init'), proc(10, 1, 'sshd'), proc(20, 10, 'bash'), proc(30, 20, 'sudo'), proc(40, 30, 'vim'), proc(50, 1, 'cron')];
    const listed = all.filter((p) => p.pid !== 30 && p.pid !== 1 && p.pid !== 10);
    const { roots, byPid } = buildProcessForest(listed, all);
    assert.deepEqual(
      roots.map((r) => r.info.comm),
      ['bash', 'cron'],
    );
    assert.equal(byPid.get(40)!.parent!.info.comm, 'bash');
    assert.deepEqual(
      byPid.get(20)!.children.map((c) => c.info.pid),
      [40],
    );
  });

  it('survives a ppid cycle', () => {
    const { roots } = buildProcessForest([proc(5, 6), proc(6, 7)], [proc(5, 6), proc(6, 7), proc(7, 5)]);
    assert.equal(roots.length, 1);
  });

  it('filters by name, command line or PID', () => {
    const p = proc(1234, 1, 'python3', { cmdline: ['python3', 'server.py'] });
    assert.ok(matchesFilter(p, 'PYTH'));
    assert.ok(matchesFilter(p, 'server'));
    assert.ok(matchesFilter(p, '1234'));
    assert.ok(matchesFilter(p, ''));
    assert.ok(!matchesFilter(p, 'node'));
  });
});

describe('procfs: this machine', () => {
  it('lists a process that we started, with its parent, user and size', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const all = await readProcesses();
      const me = all.find((p) => p.pid === process.pid)!;
      assert.ok(me, 'the test process itself is listed');
      assert.ok(me.rssBytes > 1024 * 1024);
      assert.ok(me.threads >= 1);
      const c = all.find((p) => p.pid === child.pid)!;
      assert.ok(c, 'the child is listed');
      assert.equal(c.comm, 'sleep');
      assert.equal(c.ppid, process.pid);
      assert.deepEqual(c.cmdline, ['sleep', '30']);
      assert.equal(c.uid, process.getuid!());
      assert.ok(!all.some((p) => p.pid === 2), 'kernel threads are left out');
      const own = await readProcesses({ uid: process.getuid!() });
      assert.ok(own.every((p) => p.uid === process.getuid!()));
      const { byPid } = buildProcessForest(own, all);
      assert.equal(byPid.get(child.pid!)!.parent!.info.pid, process.pid);
      assert.equal(isAlive(child.pid!), true);
    } finally {
      child.kill();
    }
    await new Promise((r) => child.once('exit', r));
    assert.equal(isAlive(child.pid!), false);
  });

  it('leaves zombies out: they cannot be checkpointed', async () => {
    // The background sleep's parent becomes the second sleep (exec), which never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0.05 & exec sleep 30'], { stdio: 'ignore' });
    try {
      const zombie = await (async () => {
        for (let i = 0; i < 100; i++) {
          await new Promise((r) => setTimeout(r, 20));
          for (const t of readdirSync(`/proc/${parent.pid}/task`)) {
            const kids = readFileSync(`/proc/${parent.pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
            for (const k of kids) if (parseStat(readFileSync(`/proc/${k}/stat`, 'utf8'))?.state === 'Z') return k;
          }
        }
        return undefined;
      })();
      assert.ok(zombie, 'a zombie child appeared');
      const all = await readProcesses();
      assert.ok(all.some((p) => p.pid === parent.pid));
      assert.ok(!all.some((p) => p.pid === zombie));
      assert.equal(isAlive(zombie), false);
    } finally {
      parent.kill();
    }
  });
});
