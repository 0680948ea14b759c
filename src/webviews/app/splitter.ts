// A vertical bar between two panes, that resizes the pane before it by mouse or by arrow keys.

import { h } from './dom';

/** A vertical bar that resizes the pane before it, by mouse or by arrow keys. */
export function splitter(pane: HTMLElement, label: string): HTMLElement {
  const bar = h('div', { class: 'splitter', role: 'separator', 'aria-orientation': 'vertical', 'aria-label': label, tabindex: 0 });
  const setWidth = (px: number) => {
    const max = (pane.parentElement?.clientWidth ?? 1000) - 200;
    pane.style.width = `${Math.max(160, Math.min(max, px))}px`;
    bar.setAttribute('aria-valuenow', String(Math.round(pane.getBoundingClientRect().width)));
  };
  bar.addEventListener('pointerdown', (e) => {
    e.preventDefault();
    bar.setPointerCapture(e.pointerId);
    const left = pane.getBoundingClientRect().left;
    const move = (ev: PointerEvent) => setWidth(ev.clientX - left);
    const up = () => {
      bar.removeEventListener('pointermove', move);
      bar.removeEventListener('pointerup', up);
    };
    bar.addEventListener('pointermove', move);
    bar.addEventListener('pointerup', up);
  });
  bar.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    e.preventDefault();
    setWidth(pane.getBoundingClientRect().width + (e.key === 'ArrowLeft' ? -24 : 24));
  });
  return bar;
}
