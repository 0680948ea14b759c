// Checkpoints of every format the explorer reads, behind one interface (checkpoint.ts) and one
// model of processes (model.ts). No vscode import.

export type { Checkpoint, CheckpointFormat, CheckpointSummary, RecordDescription, RecordLayout, RecordView } from './checkpoint';
export type { ContainerInfo, FdState, FileKind, OpenFile, ProcessState, Registers, RegisterName, RlimitState, SigactionState, SocketState, ThreadState } from './model';
export { REGISTER_NAMES, RLIMIT_NAMES } from './model';
export { CkptCheckpoint } from './ckptCheckpoint';
export { CriuAsCheckpoint } from './criuAsCheckpoint';
export { checkpointFormat, openCheckpoint } from './openCheckpoint';
export type { OpenCheckpointOptions } from './openCheckpoint';
export { checkpointPageBytes, checkpointSide, compareCheckpoints, compareModels, diffNodeRecord } from './compareCheckpoints';
