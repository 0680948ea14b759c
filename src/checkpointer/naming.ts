// Image file names that say what they hold: comm-pid-timestamp.ckpt, e.g. redis-server-4242-20250114-093012.ckpt.

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** A name for a new image of a process; `comm` is reduced to characters safe in any file name. */
export function imageFileName(comm: string, pid: number, when = new Date()): string {
  const safe = comm.replace(/[^A-Za-z0-9._+-]+/g, '_').replace(/^[.]+/, '_').slice(0, 48) || 'process';
  const stamp = `${when.getFullYear()}${pad(when.getMonth() + 1)}${pad(when.getDate())}-${pad(when.getHours())}${pad(when.getMinutes())}${pad(when.getSeconds())}`;
  return `${safe}-${pid}-${stamp}.ckpt`;
}
