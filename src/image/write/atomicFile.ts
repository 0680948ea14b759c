// Writing a file atomically: into a temp file beside it (`.NAME.tmp-PID`, mode 0600, created
// exclusively), fsynced, renamed over the name, and the folder fsynced; on any failure the temp
// file is removed and nothing appears under the name. What `ckpt dump` does for its images, for
// the images and CRIU folders that ckpt-inspect's converters write.

import fs from 'fs';
import path from 'path';

/** The temp path a file is written to before it is renamed into place. */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}`);
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Write `target` through `write(fd)`, atomically, mode 0600. Returns what `write` returns.
 * `fsync: false` leaves out the fsyncs, for scratch files (the rename is still atomic).
 */
export async function writeFileAtomically<T>(target: string, write: (fd: number) => T | Promise<T>, opts: { fsync?: boolean } = {}): Promise<T> {
  const durable = opts.fsync !== false;
  const tmp = tempPathFor(target);
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  let done = false;
  try {
    fs.fchmodSync(fd, 0o600); // whatever the umask
    const result = await write(fd);
    if (durable) fs.fsyncSync(fd);
    fs.closeSync(fd);
    done = true;
    fs.renameSync(tmp, target);
    if (durable) fsyncDir(path.dirname(target));
    return result;
  } catch (e) {
    if (!done) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Write a folder atomically: its files are made in a temp folder beside it (mode 0700, files
 * 0600), which is renamed to `target` once complete. `target` must not exist, or be an empty
 * folder (which is replaced).
 */
export async function writeDirAtomically<T>(target: string, write: (dir: string) => T | Promise<T>): Promise<T> {
  const tmp = tempPathFor(target);
  fs.mkdirSync(tmp, { mode: 0o700 });
  try {
    const result = await write(tmp);
    for (const name of fs.readdirSync(tmp)) {
      const fd = fs.openSync(path.join(tmp, name), 'r');
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
    fsyncDir(tmp);
    let empty = false;
    try {
      empty = fs.statSync(target).isDirectory() && fs.readdirSync(target).length === 0;
    } catch {
      /* absent: fine */
    }
    if (empty) fs.rmdirSync(target);
    fs.renameSync(tmp, target);
    fsyncDir(path.dirname(path.resolve(target)));
    return result;
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
