// Image file names that say what they hold: comm-pid-timestamp.ckpt, e.g. redis-server-4242-20250114-093012.ckpt.
// The extension never overwrites an image: a second one in the same second gets -2, -3, ...

import * as fs from 'fs';
import * as path from 'path';

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** A name for a new image of a process; `comm` is reduced to characters safe in any file name. */
export function imageFileName(comm: string, pid: number, when = new Date()): string {
  const safe =
    comm
      .replace(/[^A-Za-z0-9._+-]+/g, '_')
      .replace(/^[.]+/, '_')
      .slice(0, 48) || 'process';
  const stamp = `${when.getFullYear()}${pad(when.getMonth() + 1)}${pad(when.getDate())}-${pad(when.getHours())}${pad(when.getMinutes())}${pad(when.getSeconds())}`;
  return `${safe}-${pid}-${stamp}.ckpt`;
}

/** A path in `folder` for a new image of a process, one that no file has yet. */
export function freshImagePath(folder: string, comm: string, pid: number, when = new Date(), exists: (p: string) => boolean = fs.existsSync): string {
  const name = imageFileName(comm, pid, when);
  let candidate = path.join(folder, name);
  for (let n = 2; exists(candidate); n++) candidate = path.join(folder, name.replace(/\.ckpt$/, `-${n}.ckpt`));
  return candidate;
}
