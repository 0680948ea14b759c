// Backtraces of checkpointed threads: an x86-64 unwinder over the image's memory and the mapped
// ELF files on disk (.eh_frame CFI, else frame pointers), symbolized with ELF symbols and DWARF
// line tables. No vscode import: the editor, the CLI and the tests use it alike.

export { backtrace } from './backtrace';
export type { Backtrace, BacktraceFrame } from './backtrace';
export { ElfModules } from './elfModules';
export type { ElfModule } from './elfModules';
export { ProcessSpace } from './processSpace';
export type { ProcessSpaceOptions, MappedModule } from './processSpace';
export { MAX_FRAMES, unwind } from './unwind';
export type { StopReason, UnwindResult, UnwoundFrame } from './unwind';
