// Sizes in words, one rule for the extension, the CLI and the webviews: "1 byte", "512 bytes",
// "1.5 KiB", "12 MiB". Import-free but for plural(), so that webviews bundle it too.

import { plural } from './plural';

const UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** A byte count in binary units, one decimal under 10, whole numbers above. */
export function formatBytes(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? plural(n, 'byte') : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${UNITS[i]}`;
}
