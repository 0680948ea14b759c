// Memory by virtual address: the hex view over a process's dumped pages, with the stretches that
// hold no bytes (not dumped, not mapped) folded into one row each, and a "go to address" box.
// It is also where a search result jumps to, through highlight().

import { HexLayout } from '../../shared/hexLayout';
import type { RevealedModel } from '../../shared/models';
import { addrHex, MAX_BYTES_PER_REQUEST, parseAddress } from '../../shared/protocol';
import type { HostConnection } from './connection';
import { h } from './dom';
import { HexView } from './hexView';

export class MemoryView {
  readonly element: HTMLDivElement;
  private readonly hex = new HexView('Memory');
  private readonly range: HTMLSpanElement;
  private readonly input: HTMLInputElement;
  private readonly message: HTMLSpanElement;
  private process?: number;
  private scope?: { start?: string; end?: string };
  private layoutStart = 0n;
  private layoutEnd = 0n;

  constructor(private readonly conn: HostConnection) {
    this.input = h('input', { type: 'text', class: 'addr-input', placeholder: 'Go to address (hex)', 'aria-label': 'Go to address', spellcheck: 'false' });
    this.range = h('span', { class: 'mem-range' });
    this.message = h('span', { class: 'mem-message', 'aria-live': 'polite' });
    const form = h('form', { class: 'mem-toolbar' }, this.input, h('button', { type: 'submit' }, 'Go'), this.message, this.range);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.goTo(this.input.value);
    });
    this.element = h('div', { class: 'memory-pane' }, form, this.hex.element);
  }

  /** Shows a range of a process's memory (all of it when no range is given). */
  async show(process: number, range?: { start: string; end: string }, reveal?: bigint): Promise<void> {
    if (this.process === process && this.scope?.start === range?.start && this.scope?.end === range?.end) {
      if (reveal !== undefined) this.hex.revealAddress(reveal, true);
      return;
    }
    this.process = process;
    this.scope = { start: range?.start, end: range?.end };
    const layout = await this.conn.request('memoryLayout', { process, ...(range ? { start: range.start, end: range.end } : {}) });
    const spans = layout.spans.map((s) => ({
      start: BigInt(s.start),
      end: BigInt(s.end),
      kind: s.kind === 'data' ? ('data' as const) : ('gap' as const),
      gapKind: s.kind,
      label: s.kind === 'unmapped' ? 'not mapped' : `not dumped${s.label ? ` (${s.label})` : ''}`,
    }));
    this.layoutStart = BigInt(layout.start);
    this.layoutEnd = BigInt(layout.end);
    this.range.textContent = `${layout.start}–${layout.end}${layout.truncated ? ' (cut short: too many stretches)' : ''}`;
    this.message.textContent = spans.length === 0 ? 'Nothing in this range.' : '';
    this.hex.setSource(
      {
        layout: new HexLayout(spans),
        addressDigits: 12,
        addressName: 'address',
        fetch: async (addr, length) => {
          const pieces = await this.conn.request('memory', { process, addr: `0x${addr.toString(16)}`, length: Math.min(length, MAX_BYTES_PER_REQUEST) });
          return pieces.map((p) => ({ addr: BigInt(p.addr), length: p.length, bytes: p.bytes }));
        },
      },
      reveal,
    );
  }

  /** Scrolls to an address of the process, widening the view to the whole process when it lies outside. */
  async revealAddress(addr: bigint): Promise<void> {
    if (this.process === undefined) return;
    if (addr < this.layoutStart || addr >= this.layoutEnd) await this.show(this.process, undefined, addr);
    else this.hex.revealAddress(addr, true);
    this.hex.element.focus();
  }

  /**
   * Highlights `length` bytes at an address (a search match) with the cursor on the first, scrolled
   * into sight; answers what the view shows there, read through its own source.
   */
  async highlight(addr: bigint, length: number, focus: boolean): Promise<RevealedModel | undefined> {
    const process = this.process;
    if (process === undefined) return undefined;
    if (addr < this.layoutStart || addr >= this.layoutEnd) await this.show(process, undefined, addr);
    this.message.textContent = '';
    this.hex.setHighlight(addr, addr + BigInt(Math.max(1, length)), true);
    if (focus) this.hex.element.focus();
    // At most one page of the match is reported (the protocol's revealed event is bounded).
    const pieces = await this.conn.request('memory', { process, addr: addrHex(addr), length: Math.min(Math.max(1, length), 4096, MAX_BYTES_PER_REQUEST) });
    const hl = this.hex.highlight;
    const cursor = this.hex.cursorAddress;
    return {
      process,
      cursor: cursor === undefined ? null : addrHex(cursor),
      highlight: hl ? { start: addrHex(hl.start), end: addrHex(hl.end) } : null,
      bytes: concatBytes(pieces.map((p) => p.bytes)),
    };
  }

  private async goTo(text: string): Promise<void> {
    const a = parseAddress(text);
    if (a === undefined) {
      this.message.textContent = `"${text}" is not a hex address.`;
      return;
    }
    this.message.textContent = '';
    await this.revealAddress(a);
  }
}

/** The bytes of the pieces that have bytes, one after the other. */
function concatBytes(parts: (Uint8Array | undefined)[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + (p?.length ?? 0), 0));
  let at = 0;
  for (const p of parts) if (p) out.set(p, (at += p.length) - p.length);
  return out;
}
