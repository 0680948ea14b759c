import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openCheckpoint, ProcessState } from '../../src/checkpoint';
import { CriuCheckpoint } from '../../src/criu/criuCheckpoint';
import descriptor from '../../build/formats/criu-proto.json';
import { searchAll } from '../../src/image';
import { ImageRequests } from '../../src/webviews/imageRequests';
import { criuFixture, MARKERS } from '../support/criuFixtures';
import { runInspect } from '../support/inspect';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every enum value of the .proto files by name, to read crit's names of flags and enums. */
const NAMES = new Map<string, bigint>();
for (const def of Object.values((descriptor as unknown as { nested: { criu: { nested: Record<string, { values?: Record<string, number> }> } } }).nested.criu.nested)) {
  for (const [k, v] of Object.entries(def.values ?? {})) NAMES.set(k.toUpperCase(), BigInt(v));
}
NAMES.set('MAP_ANONYMOUS', 0x20n);

/** A value as crit prints it ("0x1f", "O_WRONLY | O_LARGEFILE", 18446744073709551615), as a number. */
function critNumber(v: Json): bigint | undefined {
  if (typeof v === 'number') return BigInt(v);
  if (typeof v !== 'string') return undefined;
  if (/^0x[0-9a-f]+$/i.test(v) || /^-?\d+$/.test(v)) return BigInt(v);
  if (v === '') return 0n;
  const parts = v.split('|').map((x) => x.trim().toUpperCase());
  if (parts.every((p) => NAMES.has(p))) return parts.reduce((n, p) => n | NAMES.get(p)!, 0n);
  return undefined;
}

/**
 * Compares our decoding of a field with crit's: the same key set for what we declare, and each
 * value the same once both are read as numbers, names or bytes. Fields we do not declare show as
 * "#N" on our side and are not compared. Returns the number of values compared.
 */
function sameAsCrit(mine: Json, crit: Json, where: string): number {
  if (mine !== null && typeof mine === 'object' && !Array.isArray(mine)) {
    assert.ok(crit !== null && typeof crit === 'object' && !Array.isArray(crit), `${where}: crit has no message here (${JSON.stringify(crit)})`);
    let n = 0;
    for (const [k, v] of Object.entries(mine)) {
      if (k.startsWith('#')) continue;
      assert.ok(k in crit, `${where}.${k}: crit does not print this field`);
      n += sameAsCrit(v, (crit as Record<string, Json>)[k], `${where}.${k}`);
    }
    return n;
  }
  if (Array.isArray(mine)) {
    assert.ok(Array.isArray(crit), `${where}: crit has no list here`);
    assert.equal(mine.length, crit.length, `${where}: ${mine.length} items, crit has ${crit.length}`);
    return mine.reduce<number>((n, m, i) => n + sameAsCrit(m, (crit as Json[])[i], `${where}[${i}]`), 0);
  }
  if (mine === crit) return 1;
  if (typeof mine === 'boolean' || typeof crit === 'boolean') assert.fail(`${where}: ${mine} here, ${crit} in crit`);
  // Enum names: ours from the .proto (ALIVE), crit's from its own tables (Alive).
  if (typeof mine === 'string' && typeof crit === 'string' && mine.toUpperCase() === crit.toUpperCase()) return 1;
  // Bytes: ours in hex, crit's in base64.
  if (typeof mine === 'string' && typeof crit === 'string' && /^([0-9a-f]{2})*$/.test(mine) && Buffer.from(crit, 'base64').toString('hex') === mine) return 1;
  const a = critNumber(mine),
    b = critNumber(crit);
  assert.ok(a !== undefined && b !== undefined && a === b, `${where}: ${JSON.stringify(mine)} here, ${JSON.stringify(crit)} in crit`);
  return 1;
}

/** JSON with integers beyond 2^53 kept exact, as strings (crit prints 64-bit values as numbers). */
function parseExact(text: string): Json {
  return JSON.parse(text.replace(/([:[,]\s*)(-?\d{16,})(?=\s*[,\]}])/g, '$1"$2"')) as Json;
}

interface JsonRecord {
  kind: string;
  path: string;
  type: string;
  message?: string;
  payload?: Record<string, Json>;
  error?: string;
  children: JsonRecord[];
}

function* walk(list: JsonRecord[]): Generator<JsonRecord> {
  for (const r of list) {
    yield r;
    yield* walk(r.children);
  }
}

describe('CRIU images: ckpt-inspect json against crit', function () {
  this.timeout(60_000);
  const fixtures: [string, string][] = [
    ['single', 'single'],
    ['threads', 'threads'],
    ['tree', 'tree'],
    ['leave-running-twice/a', 'leave-running-twice/a'],
    ['leave-running-twice/b', 'leave-running-twice/b'],
    ['podman/podman.tar', 'podman'],
  ];
  for (const [fixture, crit] of fixtures) {
    it(`${fixture}: every entry of every image crit decoded, field by field`, async () => {
      const r = await runInspect('json', criuFixture(fixture));
      assert.equal(r.code, 0, r.err);
      const doc = JSON.parse(r.out) as { summary: { problems: unknown[] }; records: JsonRecord[] };
      assert.deepEqual(doc.summary.problems, []);
      const critDir = criuFixture('crit', crit);
      const seen = new Set<string>();
      let values = 0;
      for (const rec of walk(doc.records)) {
        if (rec.kind !== 'file' || !rec.children.some((c) => c.kind === 'entry')) continue;
        const name = path.basename(rec.path).replace(/\.img$/, '');
        const file = path.join(critDir, `${name}.json`);
        if (!fs.existsSync(file)) continue;
        seen.add(name);
        const critDoc = parseExact(fs.readFileSync(file, 'utf8')) as { magic: string; entries: Json[] };
        const entries = rec.children.filter((c) => c.kind === 'entry');
        assert.equal(rec.type, critDoc.magic, `${rec.path}: the kind crit names`);
        assert.equal(entries.length, critDoc.entries.length, `${rec.path}: ${entries.length} entries, crit has ${critDoc.entries.length}`);
        entries.forEach((e, i) => {
          assert.equal(e.error, undefined, `${rec.path} entry ${i}: ${e.error}`);
          assert.ok(e.payload, `${rec.path} entry ${i} has a payload`);
          const critEntry = { ...(critDoc.entries[i] as Record<string, Json>) };
          delete critEntry.extra; // the raw bytes after a message, which we keep apart
          values += sameAsCrit(e.payload as Json, critEntry, `${name}[${i}]`);
        });
      }
      // Every image crit decoded was found and compared (pages have no crit decoding).
      const critNames = fs.readdirSync(critDir).map((f) => f.replace(/\.json$/, ''));
      assert.deepEqual([...seen].sort(), critNames.sort());
      assert.ok(values > 500, `only ${values} values compared`);
    });
  }

  it('shows images it declares no message for as unknown fields, never as errors', async () => {
    const r = await runInspect('json', criuFixture('podman/podman.tar'));
    const doc = JSON.parse(r.out) as { records: JsonRecord[] };
    const seccomp = [...walk(doc.records)].find((x) => x.path === 'checkpoint/seccomp.img')!;
    assert.equal(seccomp.type, 'SECCOMP');
    const e = seccomp.children[0];
    assert.equal(e.error, undefined);
    assert.deepEqual(Object.keys(e.payload!), ['#1'], 'its one field, by number');
    const tmpfs = [...walk(doc.records)].find((x) => x.path === 'checkpoint/tmpfs-dev-57.tar.gz.img')!;
    assert.equal(tmpfs.type, 'FILE', 'a gzip tarball named .img is a plain file');
  });
});

describe('CRIU images: what the README says is in them', function () {
  this.timeout(60_000);
  const open = (f: string) => openCheckpoint(criuFixture(f), { cache: { dir: path.join(os.tmpdir(), 'ckpt-criu-test-cache') } });

  it('single: the heap marker and the 64 KiB pattern at their addresses, fd 3 at pos 4660', async () => {
    const c = await open('single');
    try {
      const [p] = await c.processes();
      assert.equal(p.pid, MARKERS.single.pid);
      assert.equal(p.comm, 'single');
      assert.deepEqual([p.pgid, p.sid, p.ppid], [28660, 28660, 0]);
      assert.deepEqual(p.cmdline, ['/tmp/criufix/bin/single', '/tmp/criufix/run/single-out.dat']);
      assert.equal(p.exe, '/tmp/criufix/bin/single');
      assert.equal(p.cwd, '/tmp/criufix/run');
      const fd3 = p.fds.find((f) => f.fd === 3)!;
      assert.equal(fd3.file.path, '/tmp/criufix/run/single-out.dat');
      assert.equal(fd3.file.pos, 4660n);
      assert.equal(fd3.file.flags & 3, 1, 'O_WRONLY');
      assert.equal(fd3.file.id, '6');
      const [fd1, fd2] = [p.fds.find((f) => f.fd === 1)!, p.fds.find((f) => f.fd === 2)!];
      assert.equal(fd1.file.id, fd2.file.id, 'fds 1 and 2 share one open file description');
      assert.equal(fd1.file.pos, 186n);
      const mem = await c.memory(p.record);
      const [marker] = await mem.read(MARKERS.single.addr, 25);
      assert.equal(marker.state, 'dumped');
      assert.equal(Buffer.from(marker.bytes!).toString('latin1'), `${MARKERS.single.text}\0`);
      assert.equal(marker.vma?.path, '[heap]');
      for (const k of [0, 1, 2, 8191, 16383]) {
        const [w] = await mem.read(MARKERS.single.pattern + BigInt(4 * k), 4);
        assert.equal(Buffer.from(w.bytes!).readUInt32LE(0), (0xc0de0000 | k) >>> 0, `pattern word ${k}`);
      }
      const hits = await searchAll(await c.searchTarget(), { mode: 'text', pattern: MARKERS.single.text });
      assert.ok(
        hits.hits.some((h) => BigInt(h.address) === MARKERS.single.addr),
        'search finds it at its address',
      );
    } finally {
      await c.close();
    }
  });

  it("threads: five named threads with their registers, the .data marker and each worker's stack mark", async () => {
    const c = await open('threads');
    try {
      const [p] = await c.processes();
      assert.deepEqual(
        p.threads.map((t) => [t.tid, t.comm]),
        [
          [28701, 'fx-thr-main'],
          [28704, 'fx-worker-0'],
          [28705, 'fx-worker-1'],
          [28706, 'fx-worker-2'],
          [28707, 'fx-worker-3'],
        ],
      );
      for (const t of p.threads) assert.ok(t.regs.rip !== undefined && t.regs.rsp !== undefined && t.regs.fs_base !== undefined);
      const mem = await c.memory(p.record);
      const [m] = await mem.read(MARKERS.threads.addr, MARKERS.threads.text.length);
      assert.equal(Buffer.from(m.bytes!).toString('latin1'), MARKERS.threads.text);
      assert.equal(m.vma?.path, '/tmp/criufix/bin/threads');
      const res = await searchAll(await c.searchTarget(), { mode: 'text', pattern: 'fx-thread-stack-' });
      for (const [i, addr] of MARKERS.threads.stacks.entries()) {
        assert.ok(
          res.hits.some((h) => BigInt(h.address) === addr && Buffer.concat([h.match, h.after]).toString('latin1').startsWith(`fx-thread-stack-${i}`)),
          `stack mark ${i}`,
        );
      }
    } finally {
      await c.close();
    }
  });

  it('tree: three processes, a pipe holding 28 bytes between parent and child1, a socketpair with 26 queued', async () => {
    const c = await open('tree');
    try {
      const ps = await c.processes();
      assert.deepEqual(
        ps.map((p) => [p.pid, p.ppid, p.comm]),
        [
          [28777, 0, 'fx-tree-parent'],
          [28781, 28777, 'fx-tree-child1'],
          [28782, 28777, 'fx-tree-child2'],
        ],
      );
      const fd = (p: ProcessState, n: number) => p.fds.find((f) => f.fd === n)!.file;
      const [parent, child1, child2] = ps;
      assert.deepEqual(fd(parent, 3).pipe, { ino: 380834, end: 'read', buffered: 28 });
      assert.deepEqual(fd(child1, 4).pipe, { ino: 380834, end: 'write', buffered: 28 });
      assert.deepEqual(fd(parent, 6).pipe, { ino: 380835, end: 'write', buffered: 0 });
      assert.deepEqual(fd(child2, 5).pipe, { ino: 380835, end: 'read', buffered: 0 });
      assert.deepEqual(fd(parent, 7).socket, { family: 'unix', type: 'stream', state: 'established', ino: 380836, peer: 380837, queued: 0 });
      assert.deepEqual(fd(child2, 8).socket, { family: 'unix', type: 'stream', state: 'established', ino: 380837, peer: 380836, queued: 26 });
      const criu = (c as unknown as { criu: CriuCheckpoint }).criu;
      const pipe = criu.pipeData().get(380834)!;
      assert.equal(Buffer.from(await criu.extraBytes(pipe.entry.record)).toString(), 'criu-fixture-pipe-data-0001\n');
      for (const p of ps) {
        const [s] = await (await c.memory(p.record)).read(MARKERS.tree.addr, MARKERS.tree.text.length);
        assert.equal(Buffer.from(s.bytes!).toString('latin1'), MARKERS.tree.text, `pid ${p.pid}`);
      }
    } finally {
      await c.close();
    }
  });

  for (const [archive, addr] of [
    ['podman.tar', MARKERS.podman['podman.tar']],
    ['podman.tar.gz', MARKERS.podman['podman.tar.gz']],
    ['podman-gzip.tar.gz', MARKERS.podman['podman-gzip.tar.gz']],
  ] as const) {
    it(`podman/${archive}: the container, its process and its heap marker`, async () => {
      const c = await open(`podman/${archive}`);
      try {
        const s = await c.summary();
        assert.equal(s.format, 'criu');
        assert.equal(s.container?.engine, 'Podman');
        assert.match(s.container!.name, /^criufix-pod[123]$/);
        assert.equal(s.container?.image, 'localhost/criufix-podfx:latest');
        assert.equal(s.container?.runtime, 'runc');
        assert.deepEqual(s.container?.command, ['/bin/podfx']);
        assert.ok(s.container?.env.includes('container=podman'));
        assert.match(s.container!.created, /^2026-12-04T19:14:/);
        const [p] = await c.processes();
        assert.equal(p.pid, 1);
        assert.equal(p.comm, 'podfx');
        const res = await searchAll(await c.searchTarget(), { mode: 'text', pattern: MARKERS.podman.text });
        assert.ok(
          res.hits.some((h) => BigInt(h.address) === addr),
          `marker at ${addr.toString(16)}: ${res.hits.map((h) => h.address).join(' ')}`,
        );
        assert.deepEqual(s.extras.map((x) => x.name).sort(), ['config.dump', 'ctr.log', 'spec.dump']);
      } finally {
        await c.close();
      }
    });
  }

  it('leave-running-twice: page 3 says gen=1 in the first dump and gen=2 in the second', async () => {
    for (const [dump, gen, fill] of [
      ['a', 1, 'd'],
      ['b', 2, 't'],
    ] as const) {
      const c = await open(`leave-running-twice/${dump}`);
      try {
        const [p] = await c.processes();
        const [page] = await (await c.memory(p.record)).read(MARKERS.lrt.page, 4096);
        const text = Buffer.from(page.bytes!).toString('latin1');
        assert.ok(text.startsWith(`criu-fixture-lrt page=3 gen=${gen}\0`), text.slice(0, 40));
        assert.equal(text[4095], fill);
      } finally {
        await c.close();
      }
    }
  });
});

describe('CRIU images: what the editor asks of them', function () {
  this.timeout(30_000);
  it('answers the views of a container archive: text, log, files of the rootfs diff, a process, a VMA in its file', async () => {
    // The real archive, with a rootfs diff appended as Podman writes one for a container that changed files.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'criu-requests-'));
    try {
      const tar = path.join(dir, 'with-rootfs.tar');
      fs.copyFileSync(criuFixture('podman/podman.tar'), tar);
      fs.mkdirSync(path.join(dir, 'r', 'etc'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'r', 'etc', 'motd'), 'changed\n');
      assert.equal(spawnSync('sh', ['-c', `tar -C "${dir}/r" -cf "${dir}/rootfs-diff.tar" etc && tar -C "${dir}" -rf "${tar}" rootfs-diff.tar`]).status, 0);
      const c = await openCheckpoint(tar);
      try {
        const req = new ImageRequests(c, () => ({ status: 'unverified', problems: [] }));
        const s = await req.summary();
        const extra = (name: string) => s.extras.find((x) => x.name === name)!.index;
        const spec = await req.text({ index: extra('spec.dump') });
        assert.equal(spec.name, 'spec.dump');
        assert.match(spec.text, /^{\n {2}"ociVersion": "1\.0\.2-dev",/);
        const log = await req.log({ index: extra('ctr.log') });
        assert.deepEqual(
          log.lines.map((l) => l.level),
          ['info', 'info'],
        );
        const files = await req.files({ index: extra('rootfs-diff.tar') });
        assert.deepEqual(files.files, [
          { path: 'etc', kind: 'dir', size: 0 },
          { path: 'etc/motd', kind: 'file', size: 8 },
        ]);
        assert.equal(Buffer.from(await c.memberFile!(extra('rootfs-diff.tar'), 'etc/motd', 100)).toString(), 'changed\n');
        const p = await req.process({ process: s.processes[0].index });
        assert.deepEqual(
          p.fds.map((f) => [f.fd, f.kind, f.detail]),
          [
            [0, 'device', ''],
            [1, 'pipe', 'write end, 0 bytes buffered'],
            [2, 'pipe', 'write end, 0 bytes buffered'],
          ],
        );
        assert.ok(p.threads[0].registers.some((r) => r.name === 'rip'));
        // A VMA: its bytes in mm-1.img, and the memory range its memory view opens at.
        const space = await req.addressSpace({ process: s.processes[0].index });
        const heap = space.vmas.find((v) => v.path === '[heap]')!;
        const d = await req.record({ index: heap.index });
        assert.equal(d.node.title, 'VMA');
        assert.deepEqual(d.file, { name: 'checkpoint/mm-1.img', base: d.file!.base });
        assert.deepEqual(d.memoryRange, { start: heap.start, end: heap.end });
        assert.deepEqual(d.views, ['fields', 'addressSpace', 'memory']);
        assert.equal(d.fields!.find((f) => f.name === 'start')!.display, heap.start);
      } finally {
        await c.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
