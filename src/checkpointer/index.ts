// The native checkpointer, seen from TypeScript: resolve the binary, run dump and restore, and turn
// its exit codes into typed errors with messages for people.

export { Checkpointer, checkpointingUnavailable, resolveCheckpointerBinary, shellQuote, BUNDLED_BINARY } from './checkpointer';
export type { CheckpointMode, DumpOptions, RestorePids, DumpResult, RestoreOptions, RestoreResult } from './checkpointer';
export { CheckpointerError, ExitCode, failure, explainPtracePermission, ptraceFacts, kindOfExit } from './errors';
export type { CheckpointerErrorKind, FailureContext, PtraceFacts } from './errors';
export { parseEventLine, LineSplitter, ProgressTracker } from './events';
export type { CheckpointerEvent } from './events';
export { freshImagePath, imageFileName } from './naming';
