// A process as the process list (src/processes/procfs.ts) reads it from /proc, made up for the
// tests of what is built from that list: the tree, the groups, the filter.

import type { ProcessInfo } from '../../src/processes/procfs';

/** Process `pid` under `ppid`: a sleeping process of uid 1000 named p<pid>, unless `fields` say otherwise. */
export function fakeProcess(pid: number, ppid: number, fields: Partial<ProcessInfo> = {}): ProcessInfo {
  const comm = fields.comm ?? `p${pid}`;
  return { pid, ppid, comm, state: 'S', uid: 1000, user: 'u', rssBytes: 0, threads: 1, cmdline: [comm], startTime: pid * 10, sid: 1, ...fields };
}
