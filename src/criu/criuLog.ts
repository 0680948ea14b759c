// CRIU's log (dump.log, restore.log; `-v4` or not): its lines with their level, so that the
// editor can show the log with errors and warnings marked and jump between them. CRIU starts
// each message with "(seconds.micros) " and, for errors and warnings, "Error (file:line): " or
// "Warn  (file:line): ".

export type LogLevel = 'error' | 'warn' | 'info';

export interface LogLine {
  /** Line number, from 1. */
  n: number;
  text: string;
  level: LogLevel;
}

export interface LogView {
  lines: LogLine[];
  errors: number;
  warnings: number;
  /** Lines left out past the limit. */
  more: number;
}

const ERROR = /^(\(\s*[\d.]+\)\s+)?(\d+:\s+)?Error\b/;
const WARN = /^(\(\s*[\d.]+\)\s+)?(\d+:\s+)?Warn\b/;

/** The lines of a log, at most `max` of them (errors and warnings are counted in all). */
export function parseLog(text: string, max = 50_000): LogView {
  const all = text.split('\n');
  if (all[all.length - 1] === '') all.pop();
  const lines: LogLine[] = [];
  let errors = 0,
    warnings = 0;
  all.forEach((t, i) => {
    const level: LogLevel = ERROR.test(t) ? 'error' : WARN.test(t) ? 'warn' : 'info';
    if (level === 'error') errors++;
    else if (level === 'warn') warnings++;
    if (lines.length < max) lines.push({ n: i + 1, text: t, level });
  });
  return { lines, errors, warnings, more: Math.max(0, all.length - max) };
}
