// JSON written as it is produced, never built as one string: `json` of an image with a 64 MB
// environment of NULs made a string longer than V8 allows, after minutes and gigabytes. The
// layout is JSON.stringify(value, null, 1)'s, with one difference: indentation stops growing at
// MAX_INDENT columns, so that a record tree as deep as the image has records (which a hostile
// image can be) does not make the output grow with the square of its depth. Values are walked
// with an explicit stack, so depth costs no call stack either. Iterables that are not arrays
// (generators) are written as arrays, item by item, so that a long list need never exist whole.

import type { Output } from './output';

/** Indentation stops growing at this many columns. */
export const MAX_INDENT = 32;

const indents: string[] = [];
const indent = (depth: number) => (indents[depth] ??= `\n${' '.repeat(Math.min(depth, MAX_INDENT))}`);

type Frame = { array: true; items: Iterator<unknown>; empty: boolean } | { array: false; entries: [string, unknown][]; at: number; empty: boolean };

export class JsonWriter {
  /** Open containers: true for an array, false for an object. */
  private readonly open: { array: boolean; empty: boolean }[] = [];
  private afterKey = false;

  constructor(private readonly out: Output) {}

  /** Start an object or an array, as a value (after a key, or as an array item, or at the top). */
  begin(array: boolean): void {
    this.out.text(this.beforeValue() + (array ? '[' : '{'));
    this.open.push({ array, empty: true });
  }

  /** The key of the next member of the open object. */
  key(k: string): void {
    const top = this.open[this.open.length - 1];
    if (!top || top.array) throw new Error('a key outside an object');
    this.out.text(`${top.empty ? '' : ','}${indent(this.open.length)}${JSON.stringify(k)}: `);
    top.empty = false;
    this.afterKey = true;
  }

  /** Close the innermost object or array. */
  end(): void {
    const top = this.open.pop()!;
    this.out.text(`${top.empty ? '' : indent(this.open.length)}${top.array ? ']' : '}'}`);
  }

  /** A key and its value. */
  async member(k: string, v: unknown): Promise<void> {
    this.key(k);
    await this.value(v);
  }

  /** A whole value, written piece by piece, with JSON.stringify's rules for what it holds. */
  async value(v: unknown): Promise<void> {
    const frames: Frame[] = [];
    let next: unknown = v;
    for (;;) {
      // Write `next`: a scalar at once, a container by pushing a frame.
      const x = toJson(next);
      if (x !== null && typeof x === 'object') {
        const frame: Frame =
          Array.isArray(x) || isIterator(x)
            ? { array: true, items: (x as Iterable<unknown>)[Symbol.iterator](), empty: true }
            : { array: false, entries: Object.entries(x as object), at: 0, empty: true };
        this.begin(frame.array);
        frames.push(frame);
      } else {
        this.out.text(this.beforeValue() + (x === undefined ? 'null' : JSON.stringify(x)));
      }
      // Find the next value to write, closing the containers that are done.
      let found = false;
      while (frames.length && !found) {
        const f = frames[frames.length - 1];
        if (f.array) {
          for (;;) {
            const r = f.items.next();
            if (r.done) {
              frames.pop();
              this.end();
              break;
            }
            // Strings and numbers, the items of long lists, are written here at once.
            if (typeof r.value === 'string' || (typeof r.value === 'number' && Number.isFinite(r.value))) {
              this.out.text(this.beforeValue() + JSON.stringify(r.value));
              if (this.out.needsDrain) await this.out.drain();
              continue;
            }
            next = r.value;
            found = true;
            break;
          }
        } else {
          while (f.at < f.entries.length) {
            const [k, val] = f.entries[f.at++];
            if (val === undefined || typeof val === 'function' || typeof val === 'symbol') continue;
            this.key(k);
            next = val;
            found = true;
            break;
          }
          if (!found) {
            frames.pop();
            this.end();
          }
        }
      }
      if (this.out.needsDrain) await this.out.drain();
      if (!found) return;
    }
  }

  /** What goes before a value: nothing after a key, else a comma (but for the first item) and a new line. */
  private beforeValue(): string {
    if (this.afterKey) {
      this.afterKey = false;
      return '';
    }
    const top = this.open[this.open.length - 1];
    if (!top) return '';
    const sep = top.empty ? indent(this.open.length) : `,${indent(this.open.length)}`;
    top.empty = false;
    return sep;
  }
}

/** What JSON.stringify would write for `v` before looking inside it: toJSON, functions as undefined. */
function toJson(v: unknown): unknown {
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') v = (v as { toJSON(): unknown }).toJSON();
  if (typeof v === 'function' || typeof v === 'symbol') return undefined;
  if (typeof v === 'number' && !Number.isFinite(v)) return null;
  return v;
}

/** A generator or other iterator: written as an array. */
function isIterator(v: object): boolean {
  return typeof (v as Iterator<unknown>).next === 'function' && Symbol.iterator in v;
}
