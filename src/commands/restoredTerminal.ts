// The terminal of a restored process: a Pseudoterminal that shows what the process writes to the
// file that the extension gave it as stdout and stderr, as it writes it, and says when it exits.
// Ctrl+C sends it SIGINT; other input cannot reach it (its stdin is not this terminal).

import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { isAlive } from '../processes/procfs';

const POLL_MS = 250;
/** The private folder restore makes for the new process's output (os.tmpdir()/PREFIX-XXXXXX). */
export const RESTORE_DIR_PREFIX = 'ckpt-explorer-restore-';

export class RestoredProcessTerminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  readonly onDidWrite = this.writeEmitter.event;
  private timer?: ReturnType<typeof setInterval>;
  private offset = 0;
  private exited = false;
  private hinted = false;
  private readonly decoder = new TextDecoder('utf-8');

  constructor(
    readonly pid: number,
    readonly outputFile: string,
    private readonly banner: string,
  ) {}

  open(): void {
    this.writeEmitter.fire(`\x1b[2m${this.banner}\x1b[0m\r\n`);
    this.poll();
    this.timer = setInterval(() => this.poll(), POLL_MS);
  }

  close(): void {
    this.stopTailing();
    // The output file is ours; once the process is gone and its terminal closed, nobody reads it.
    const dir = path.dirname(this.outputFile);
    if (!isAlive(this.pid) && path.basename(dir).startsWith(RESTORE_DIR_PREFIX)) fs.rmSync(dir, { recursive: true, force: true });
  }

  private stopTailing(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  handleInput(data: string): void {
    if (data === '\x03') {
      try {
        process.kill(this.pid, 'SIGINT');
        this.writeEmitter.fire('^C\r\n');
      } catch {
        // already gone
      }
    } else if (!this.hinted) {
      this.hinted = true;
      this.writeEmitter.fire(`\r\n\x1b[2m[input does not reach the restored process; Ctrl+C sends it SIGINT]\x1b[0m\r\n`);
    }
  }

  private poll(): void {
    this.drain();
    if (!this.exited && !isAlive(this.pid)) {
      this.exited = true;
      this.drain();
      this.writeEmitter.fire(`\r\n\x1b[2m[process ${this.pid} exited]\x1b[0m\r\n`);
      this.stopTailing();
    }
  }

  /** Writes what the file gained since the last look. */
  private drain(): void {
    let fd: number | undefined;
    try {
      // O_NOFOLLOW: the file may belong to the restored process's user, who must not point it elsewhere
      fd = fs.openSync(this.outputFile, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      const size = fs.fstatSync(fd).size;
      if (size < this.offset) this.offset = 0; // truncated
      while (this.offset < size) {
        const buf = Buffer.alloc(Math.min(64 * 1024, size - this.offset));
        const n = fs.readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        const text = this.decoder.decode(buf.subarray(0, n), { stream: true });
        this.writeEmitter.fire(text.replace(/\r?\n/g, '\r\n'));
      }
    } catch {
      // not created yet
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
}
