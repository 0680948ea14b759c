// Building DOM without HTML strings: every text from the image goes in through textContent, so a
// record's bytes can never become markup.

type Attrs = Record<string, string | number | boolean | undefined>;
type Child = Node | string | undefined | null | false;

/** An element with attributes (false/undefined left out) and children (strings become text nodes). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') el.className = String(v);
    else if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export { formatBytes } from '../../shared/units';

/** Calls `fn` at most once per animation frame, with the latest arguments. */
export function perFrame<A extends unknown[]>(fn: (...a: A) => void): (...a: A) => void {
  let pending: A | undefined;
  return (...a: A) => {
    const first = pending === undefined;
    pending = a;
    if (first) {
      requestAnimationFrame(() => {
        const args = pending!;
        pending = undefined;
        fn(...args);
      });
    }
  };
}

/** The line under an editor that says what went wrong with the last request, or nothing. */
export class StatusLine {
  readonly element = h('div', { class: 'status', role: 'status' });

  error(e: unknown): void {
    this.element.textContent = `Error: ${e instanceof Error ? e.message : String(e)}`;
    this.element.classList.add('error');
  }

  clear(): void {
    this.element.classList.remove('error');
    this.element.textContent = '';
  }
}

/**
 * Starts an editor's front end in #app; when the host could not open its document it left the reason
 * in data-error instead, and that is shown under `failureHeading`.
 */
export function mountEditor(failureHeading: string, start: (root: HTMLElement) => Promise<void>): void {
  const root = document.getElementById('app');
  if (!root) return;
  const failure = root.dataset.error;
  if (failure) root.appendChild(h('div', { class: 'open-error', role: 'alert' }, h('h1', {}, failureHeading), h('p', {}, failure)));
  else void start(root);
}
