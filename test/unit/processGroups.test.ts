import assert from 'node:assert/strict';
import { groupProcesses, vscodeInternals } from '../../src/views/processGroups';
import { buildProcessForest, ProcessInfo } from '../../src/processes/procfs';
import { fakeProcess } from '../support/processInfo';

const proc = (pid: number, ppid: number, sid: number, comm = `p${pid}`): ProcessInfo => fakeProcess(pid, ppid, { sid, comm });

describe('Processes view: groups', () => {
  // init 1; a login session (bash 100, its vim 101); code-server 200 with its extension host 201
  // (us), its pty host 202, a terminal's shell 203 and what it runs (make 204, cc 205); a restored
  // process 206 that the extension host adopted; a second session (tmux 300, top 301).
  const all = [
    proc(1, 0, 1, 'systemd'),
    proc(100, 1, 100, 'bash'),
    proc(101, 100, 100, 'vim'),
    proc(200, 1, 150, 'node'),
    proc(201, 200, 150, 'node'),
    proc(202, 200, 150, 'node'),
    proc(203, 202, 203, 'bash'),
    proc(204, 203, 203, 'make'),
    proc(205, 204, 203, 'cc'),
    proc(206, 201, 206, 'perl'),
    proc(300, 1, 300, 'tmux'),
    proc(301, 300, 300, 'top'),
  ];

  it("leaves VS Code's own processes out: its server and the server's children", () => {
    assert.deepEqual(
      [...vscodeInternals(all, 201)].sort((a, b) => a - b),
      [200, 201, 202],
    );
  });

  it('puts what runs in VS Code first, then each session under its leader, with counts', () => {
    const internals = vscodeInternals(all, 201);
    const listed = all.filter((p) => !internals.has(p.pid) && p.pid !== 1);
    const forest = buildProcessForest(listed, all);
    const groups = groupProcesses(forest.roots, all, internals);
    assert.deepEqual(
      groups.map((g) => [g.label, g.description, g.fromVSCode, g.roots.map((r) => r.info.pid)]),
      [
        ['Started in VS Code', 'terminals, tasks, restored processes', true, [203, 206]],
        ['bash session', 'SID 100 · 2 processes', false, [100]],
        ['tmux session', 'SID 300 · 2 processes', false, [300]],
      ],
    );
    // the terminal's shell keeps its tree
    assert.deepEqual(
      groups[0].roots[0].children.map((c) => c.info.comm),
      ['make'],
    );
  });

  it('names a session whose leader is gone by its number', () => {
    const orphans = [proc(400, 1, 399, 'sleep')];
    const groups = groupProcesses(buildProcessForest(orphans, orphans).roots, orphans, new Set());
    assert.deepEqual(
      groups.map((g) => [g.label, g.description]),
      [['session 399', 'SID 399 · 1 process']],
    );
  });
});
