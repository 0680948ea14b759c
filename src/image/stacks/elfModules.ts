// The ELF files that processes mapped, opened from disk once and kept while they are used: each
// with its call frame information, its function symbols and its line table (each made on first
// use), and its separate debug file when /usr/lib/debug has one (found by build-id, then by
// .gnu_debuglink). Files are known by path, device, inode, size and mtime, so a file replaced on
// disk is opened again; at most `maxFiles` stay open, least recently used first out.

import * as fs from 'fs';
import * as path from 'path';
import { CallFrameInfo } from './callFrameInfo';
import { ElfFile, FileIdentity } from './elfFile';
import { LineTable } from './lineTable';
import { SymbolTable } from './symbols';

export interface ElfModule {
  path: string;
  elf: ElfFile;
  buildId?: string;
  /** The separate debug file used for symbols and lines, when one was found. */
  debugPath?: string;
  /** Closed by the cache (evicted): ask the cache again. */
  readonly closed: boolean;
  cfi(): CallFrameInfo | undefined;
  symbols(): SymbolTable;
  /** Undefined when neither the file nor its debug file has .debug_line. */
  lines(): LineTable | undefined;
}

/** Why a module cannot be used. */
export interface ModuleProblem {
  path: string;
  problem: string;
}

export interface ElfModulesOptions {
  maxFiles?: number;
  /** Most bytes of tables (symbols, line programs, CFI indexes) kept across all files (default 512 MiB). */
  maxBytes?: number;
  /** Where separate debug files are looked for (default /usr/lib/debug). */
  debugRoot?: string;
}

class OpenModule implements ElfModule {
  private cfiMade = false;
  private cfiValue?: CallFrameInfo;
  private symbolsValue?: SymbolTable;
  private linesMade = false;
  private linesValue?: LineTable;
  readonly buildId?: string;
  readonly debugPath?: string;
  private debugElf?: ElfFile;

  constructor(
    readonly path: string,
    readonly elf: ElfFile,
    debugRoot: string,
  ) {
    this.buildId = elf.buildId();
    const debug = findDebugFile(elf, this.buildId, debugRoot);
    if (debug) {
      this.debugElf = debug;
      this.debugPath = debug.path;
    }
  }

  cfi(): CallFrameInfo | undefined {
    if (!this.cfiMade) {
      this.cfiMade = true;
      this.cfiValue = CallFrameInfo.of(this.elf);
    }
    return this.cfiValue;
  }

  symbols(): SymbolTable {
    if (!this.symbolsValue) {
      const own = SymbolTable.of(this.elf);
      // A stripped file has only .dynsym; its debug file's .symtab names static functions too.
      this.symbolsValue = own.source !== '.symtab' && this.debugElf ? better(own, SymbolTable.of(this.debugElf)) : own;
    }
    return this.symbolsValue;
  }

  lines(): LineTable | undefined {
    if (!this.linesMade) {
      this.linesMade = true;
      for (const f of [this.elf, this.debugElf]) {
        const line = f?.trySection('.debug_line');
        if (!line) continue;
        this.linesValue = new LineTable(line.bytes, f!.trySection('.debug_line_str')?.bytes, f!.trySection('.debug_str')?.bytes);
        break;
      }
    }
    return this.linesValue;
  }

  get closed(): boolean {
    return this.elf.closed;
  }

  /** About how many bytes its tables hold, for the cache's budget. */
  get bytes(): number {
    return 4096 + (this.symbolsValue?.bytes ?? 0) + (this.linesValue?.bytes ?? 0) + (this.cfiValue?.bytes ?? 0);
  }

  close(): void {
    this.elf.close();
    this.debugElf?.close();
  }
}

function better(a: SymbolTable, b: SymbolTable): SymbolTable {
  return b.count > a.count ? b : a;
}

/** A separate debug file for `elf`: by build-id first, then by its debuglink; it must carry the same build-id. */
function findDebugFile(elf: ElfFile, buildId: string | undefined, root: string): ElfFile | undefined {
  const candidates: string[] = [];
  if (buildId && buildId.length > 2) candidates.push(path.join(root, '.build-id', buildId.slice(0, 2), `${buildId.slice(2)}.debug`));
  const link = elf.debugLink();
  if (link && !link.includes('/')) {
    const dir = path.dirname(elf.path);
    candidates.push(path.join(root, dir, link), path.join(dir, '.debug', link));
  }
  for (const c of candidates) {
    if (c === elf.path) continue;
    let f: ElfFile;
    try {
      f = ElfFile.open(c);
    } catch {
      continue;
    }
    if (!buildId || f.buildId() === buildId) return f;
    f.close();
  }
  return undefined;
}

const identityKey = (p: string, id: FileIdentity) => `${p}\0${id.dev}:${id.ino}:${id.size}:${id.mtimeNs}`;

export class ElfModules {
  private readonly open = new Map<string, OpenModule>();
  /** Files that could not be opened, with why, by their identity (or path when stat failed). */
  private readonly failed = new Map<string, string>();
  private readonly maxFiles: number;
  private readonly maxBytes: number;
  private readonly debugRoot: string;

  constructor(opts: ElfModulesOptions = {}) {
    this.maxFiles = opts.maxFiles ?? 48;
    this.maxBytes = opts.maxBytes ?? 512 * 1024 * 1024;
    this.debugRoot = opts.debugRoot ?? '/usr/lib/debug';
  }

  /** The module at `file` as it is on disk now, or a problem saying why it cannot be used. */
  get(file: string): ElfModule | ModuleProblem {
    let st: fs.BigIntStats;
    try {
      st = fs.statSync(file, { bigint: true });
    } catch (e) {
      return { path: file, problem: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file is gone' : `cannot read it: ${(e as Error).message}` };
    }
    const key = identityKey(file, { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs });
    const hit = this.open.get(key);
    if (hit) {
      this.open.delete(key);
      this.open.set(key, hit); // most recently used last
      this.evict();
      return hit;
    }
    const fail = this.failed.get(key);
    if (fail) return { path: file, problem: fail };
    let elf: ElfFile;
    try {
      elf = ElfFile.open(file);
    } catch (e) {
      const problem = (e as Error).message.replace(`${file}: `, '');
      if (this.failed.size > 1000) this.failed.clear();
      this.failed.set(key, problem);
      return { path: file, problem };
    }
    const m = new OpenModule(file, elf, this.debugRoot);
    this.open.set(key, m);
    this.evict();
    return m;
  }

  /** Closes the least recently used files while there are too many or their tables are too large (never the newest). */
  private evict(): void {
    let total = 0;
    for (const m of this.open.values()) total += m.bytes;
    while (this.open.size > 1 && (this.open.size > this.maxFiles || total > this.maxBytes)) {
      const [oldKey, old] = this.open.entries().next().value as [string, OpenModule];
      this.open.delete(oldKey);
      total -= old.bytes;
      old.close();
    }
  }

  close(): void {
    for (const m of this.open.values()) m.close();
    this.open.clear();
    this.failed.clear();
  }
}

export function isProblem(m: ElfModule | ModuleProblem): m is ModuleProblem {
  return 'problem' in m;
}
