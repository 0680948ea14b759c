// Sockets (issue 11): unix sockets of every kind inside a process tree, TCP and UDP listeners,
// the connections ckpt cannot take (refused, naming them, or with --external unix / --tcp-close
// restored as closed or reset by the peer), and a small server that answers on the same port
// and path after a restore. Each target checks its own sockets after the restore and prints
// PASS/FAIL per item; the tests require every item to PASS, as root and as an ordinary user.

import * as assert from 'assert';
import * as net from 'net';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { openCheckpoint } from '../../src/checkpoint';
import { alive, assertNoImage, assertOneErrorLine, buildTargets, descendants, EXIT, identities, Lab, lines, procStatus, ROOT, samePidPossible, target, tracerPid, waitFor } from './helpers';

/** Asks a self-checking target (SIGUSR1) and returns the lines it wrote for that check. */
async function selfCheck(out: string, pid: number): Promise<string[]> {
  const before = lines(out).filter((l) => l === 'done').length;
  process.kill(pid, 'SIGUSR1');
  await waitFor('the target to check itself', () => lines(out).filter((l) => l === 'done').length > before, 20000);
  const all = lines(out);
  const end = all.length - 1;
  let start = end - 1;
  while (start >= 0 && all[start] !== 'done' && !all[start].startsWith('ready')) start--;
  return all.slice(start + 1, end);
}

const UNIX_ITEMS = ['accepted', 'pending', 'tree', 'listening', 'abstract', 'dgram', 'unconnected', 'peer-closed', 'seqpacket'];
const INET_ITEMS = ['tcp4', 'tcp6', 'udp4', 'udp6', 'unbound'];

/** One line from a stream connection (TCP or unix), after sending `msg`. */
function ask(opts: net.NetConnectOpts, msg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(opts);
    let got = '';
    const timer = setTimeout(() => (c.destroy(), reject(new Error(`no answer to ${msg.trim()} within 10 s`))), 10000);
    c.on('connect', () => c.write(msg));
    c.on('data', (d) => {
      got += d.toString();
      if (got.includes('\n')) {
        clearTimeout(timer);
        c.end();
        resolve(got.split('\n')[0]);
      }
    });
    c.on('error', (e) => (clearTimeout(timer), reject(e)));
  });
}

describe('native: sockets (issue 11)', function () {
  this.timeout(120000);
  before(buildTargets);
  const lab = new Lab();
  afterEach(() => lab.cleanup());

  for (const id of identities()) {
    const mode = samePidPossible(id) ? '--same-pids' : '--pid-ns';
    describe(`as ${id.name}`, () => {
      it('unix sockets of every kind, in a process and its child (--tree): each item checks itself after restore', async () => {
        const dir = lab.dir(id);
        const out = path.join(dir, 'unix.txt');
        lab.start(id, [target('reaper'), '--exec', target('unixsock'), out, dir]);
        const ready = await waitFor('the unix target', () => lines(out).find((l) => l.startsWith('ready ')));
        const [pid, child] = ready.split(' ').slice(1).map(Number);
        const image = path.join(dir, 'unix.ckpt');
        const d = await lab.dump(id, pid, image, ['--tree', '--kill']);
        assert.strictEqual(d.code, 0, d.stderr);
        await waitFor('its pids to be free', () => [pid, child].every((p) => !procStatus(p)));
        // the image says what each socket is: the decoder's model shows kind, state, names and peers
        const cp = await openCheckpoint(image);
        try {
          const socks = (await cp.processes())[0].fds.filter((f) => f.file.socket).map((f) => f.file.socket!);
          assert.ok(
            socks.some((s) => s.state.startsWith('listen') && s.local === path.join(dir, 'l.sock')),
            JSON.stringify(socks),
          );
          assert.ok(
            socks.some((s) => s.type === 'seqpacket' && s.state.startsWith('listen') && s.local?.startsWith('@ckpt-test-seq-')),
            JSON.stringify(socks),
          );
          assert.ok(
            socks.some((s) => s.state.includes('not accepted')),
            JSON.stringify(socks),
          );
        } finally {
          await cp.close();
        }
        const r = await lab.restore(id, image, ['--stdio=null', mode]);
        assert.strictEqual(r.code, 0, r.stderr);
        for (const p of descendants(r.pid!)) lab.track(p);
        assert.deepStrictEqual(
          await selfCheck(out, r.pid!),
          UNIX_ITEMS.map((i) => `PASS ${i}`),
        );
      });

      it('TCP listeners and UDP sockets, IPv4 and IPv6: same ports and options, and they answer from outside', async () => {
        const dir = lab.dir(id);
        const out = path.join(dir, 'inet.txt');
        const t = lab.startTarget(id, [target('inetsock'), out]);
        const ready = await waitFor('the inet target', () => lines(out).find((l) => l.startsWith('ready ')));
        const port4 = Number(ready.split(' ')[2]);
        const image = path.join(dir, 'inet.ckpt');
        const d = await lab.dump(id, t.pid, image, ['--kill']);
        assert.strictEqual(d.code, 0, d.stderr);
        const r = await lab.restore(id, image);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(
          await selfCheck(out, r.pid!),
          INET_ITEMS.map((i) => `PASS ${i}`),
        );
        // a connection from outside lands on the restored listener
        await new Promise<void>((resolve, reject) => {
          const c = net.connect({ host: '127.0.0.1', port: port4 }, () => (c.destroy(), resolve()));
          c.on('error', reject);
        });
      });

      it(
        id.uid === 0
          ? 'an established TCP connection (root: CAP_NET_ADMIN): restored with TCP_REPAIR, its queued bytes and all'
          : 'an established TCP connection (no CAP_NET_ADMIN): refused naming it (exit 5, one line), the process left running',
        async () => {
          const dir = lab.dir(id);
          const out = path.join(dir, 'est.txt');
          const t = lab.startTarget(id, [target('inetsock'), out, 'established']);
          const ready = await waitFor('the inet target', () => lines(out).find((l) => l.startsWith('ready ')));
          const port4 = Number(ready.split(' ')[2]);
          const image = path.join(dir, 'est.ckpt');
          const d = await lab.dump(id, t.pid, image, ['--kill']);
          if (id.uid !== 0) {
            assert.strictEqual(d.code, EXIT.unsupported, d.stderr);
            assertOneErrorLine(d.stderr, new RegExp(`an established TCP connection 127\\.0\\.0\\.1:\\d+ -> 127\\.0\\.0\\.1:${port4} \\(restoring it needs TCP_REPAIR, CAP_NET_ADMIN; --tcp-close`));
            assertNoImage(image);
            assert.ok(alive(t.pid) && tracerPid(t.pid) === 0, 'the target runs on, untraced');
            return;
          }
          assert.strictEqual(d.code, 0, d.stderr);
          const r = await lab.restore(id, image);
          assert.strictEqual(r.code, 0, r.stderr);
          assert.deepStrictEqual(
            await selfCheck(out, r.pid!),
            [...INET_ITEMS, 'connection'].map((i) => `PASS ${i}`),
          );
        },
      );

      it('an established TCP connection with --tcp-close: restored as reset by the peer', async () => {
        const dir = lab.dir(id);
        const out = path.join(dir, 'reset.txt');
        const t = lab.startTarget(id, [target('inetsock'), out, 'established']);
        await waitFor('the inet target', () => lines(out).find((l) => l.startsWith('ready ')));
        const image = path.join(dir, 'reset.ckpt');
        const d = await lab.dump(id, t.pid, image, ['--kill', '--tcp-close']);
        assert.strictEqual(d.code, 0, d.stderr);
        const r = await lab.restore(id, image);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(
          await selfCheck(out, r.pid!),
          [...INET_ITEMS, 'reset'].map((i) => `PASS ${i}`),
        );
      });

      it('a unix socket connected to a process outside: refused naming the peer (pid, comm); --external unix restores it closed by the peer', async () => {
        const dir = lab.dir(id);
        const sockPath = path.join(dir, 'ext.sock');
        const srvOut = path.join(dir, 'ext-server.txt');
        const server = lab.startTarget(id, [
          'python3',
          '-c',
          [
            'import socket, sys, time',
            's = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)',
            'open(sys.argv[2], "w").write("listening\\n")',
            'c, _ = s.accept(); c.sendall(b"hello")',
            'while True: time.sleep(1)',
          ].join('\n'),
          sockPath,
          srvOut,
        ]);
        await waitFor('the outside listener', () => lines(srvOut).includes('listening'));
        const out = path.join(dir, 'ext.txt');
        const t = lab.startTarget(id, [
          'python3',
          '-c',
          [
            'import socket, signal, sys, time',
            'c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1])',
            'def check(*_):',
            '    c.settimeout(5); got = b""',
            '    while True:',
            '        b = c.recv(100)',
            '        if not b: break',
            '        got += b',
            '    open(sys.argv[2], "a").write(("PASS" if got == b"hello" else "FAIL %r" % got) + " peer-closed\\ndone\\n")',
            'signal.signal(signal.SIGUSR1, check)',
            'time.sleep(0.5)',
            'open(sys.argv[2], "a").write("ready\\n")',
            'while True: time.sleep(0.01)',
          ].join('\n'),
          sockPath,
          out,
        ]);
        await waitFor('the client', () => lines(out).includes('ready'));
        const image = path.join(dir, 'ext.ckpt');
        const refused = await lab.dump(id, t.pid, image, ['--kill']);
        assert.strictEqual(refused.code, EXIT.unsupported, refused.stderr);
        assertOneErrorLine(refused.stderr, new RegExp(`a unix socket connected to pid ${server.pid} \\(python3\\), outside the checkpoint \\(--external unix`));
        assertNoImage(image);
        assert.ok(alive(t.pid) && tracerPid(t.pid) === 0, 'the client runs on, untraced');
        const d = await lab.dump(id, t.pid, image, ['--kill', '--external', 'unix']);
        assert.strictEqual(d.code, 0, d.stderr);
        const r = await lab.restore(id, image);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(await selfCheck(out, r.pid!), ['PASS peer-closed']);
      });

      it('a small server (TCP listener, epoll loop, tick, unix control socket) answers after restore on the same port and path', async () => {
        const dir = lab.dir(id);
        const out = path.join(dir, 'server.txt');
        const ctl = path.join(dir, 'ctl.sock');
        const t = lab.startTarget(id, [target('sockserver'), out, dir]);
        const ready = await waitFor('the server', () => lines(out).find((l) => l.startsWith('ready ')));
        const port = Number(ready.split(' ')[2]);
        assert.match(await ask({ host: '127.0.0.1', port }, 'ping\n'), /^pong \d+$/);
        // a control client that stays connected over the checkpoint
        const client = net.connect({ path: ctl });
        const ended = new Promise<string>((resolve) => {
          client.on('end', () => resolve('EOF'));
          client.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
          client.on('close', () => resolve('closed'));
        });
        await new Promise<void>((resolve, reject) => (client.once('connect', resolve), client.once('error', reject)));
        const image = path.join(dir, 'server.ckpt');
        const refused = await lab.dump(id, t.pid, image, ['--kill']);
        assert.strictEqual(refused.code, EXIT.unsupported, 'the connected control client is outside the checkpoint');
        // the peer is this test (node, root): named where the dumping user may see it
        const peer = id.uid === 0 ? `pid ${process.pid} \\(node\\)` : 'a peer ckpt cannot see \\(socket:\\[\\d+\\]\\)';
        assertOneErrorLine(refused.stderr, new RegExp(`a unix socket ${ctl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} connected to ${peer}, outside the checkpoint`));
        const d = await lab.dump(id, t.pid, image, ['--kill', '--external', 'unix']);
        assert.strictEqual(d.code, 0, d.stderr);
        assert.match(await ended, /^(EOF|ECONNRESET|closed)$/, 'the client is told that its connection is gone');
        const r = await lab.restore(id, image);
        assert.strictEqual(r.code, 0, r.stderr);
        const pong = await ask({ host: '127.0.0.1', port }, 'ping\n');
        assert.match(pong, /^pong \d+$/);
        assert.match(await ask({ path: ctl }, 'status\n'), /^ok \d+ 1$/, 'the restored control connection was closed, as its peer had gone');
        await waitFor('the server to say it closed the control connection restored closed', () => lines(out).includes('closed ctl 0'));
        // the tick goes on after the restore
        const t1 = Number(pong.split(' ')[1]);
        await new Promise((res) => setTimeout(res, 200));
        const t2 = Number((await ask({ host: '127.0.0.1', port }, 'ping\n')).split(' ')[1]);
        assert.ok(t2 > t1, `ticks ${t1} -> ${t2}`);
      });
    });
  }

  it('ckpt-inspect diff reports a changed socket by name', async () => {
    const id = identities()[0];
    const dir = lab.dir(id);
    const out = path.join(dir, 'diff.txt');
    const t = lab.startTarget(id, [target('sockserver'), out, dir]);
    await waitFor('the server', () => lines(out).find((l) => l.startsWith('ready ')));
    const a = path.join(dir, 'a.ckpt'),
      b = path.join(dir, 'b.ckpt');
    assert.strictEqual((await lab.dump(id, t.pid, a)).code, 0);
    const client = net.connect({ path: path.join(dir, 'ctl.sock') });
    await new Promise<void>((resolve, reject) => (client.once('connect', resolve), client.once('error', reject)));
    await new Promise((res) => setTimeout(res, 200)); // the server accepts it
    const d = await lab.dump(id, t.pid, b, ['--external', 'unix']);
    client.destroy();
    assert.strictEqual(d.code, 0, d.stderr);
    const r = spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, 'src/cli/ckptInspect.ts'), 'diff', a, b], { encoding: 'utf8', timeout: 60000 });
    assert.match(r.stdout, new RegExp(`fd \\d+ unix stream ${path.join(dir, 'ctl.sock').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} -> pid ${process.pid} \\(node\\)`), r.stdout + r.stderr);
  });
});
