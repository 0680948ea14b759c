// Counts in words, one rule for every message the product prints or shows: "1 thread",
// "2 threads", "1,234 pages". Import-free, so that webviews bundle it too.

/** `n` with the noun for it: plural(1, 'thread') is "1 thread", plural(3, 'process', 'processes') "3 processes". */
export function plural(n: number | bigint, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 || n === 1n ? one : many}`;
}
