// The image library: everything that reads .ckpt images, shared by the extension, the CLI and
// the tests. It imports nothing from vscode.

export { BufferByteSource, FileByteSource, scanRange, SCAN_CHUNK, SourceError } from './byteSource';
export type { ByteSource, ScanOptions } from './byteSource';
export { CheckpointImage } from './checkpointImage';
export { describeRecord, formatBytes } from './describe';
export type { RecordDescription } from './describe';
export { ImageError, problem, problemSeverity, siteText } from './errors';
export type { ImageProblem, ProblemCode, ProblemSeverity } from './errors';
export { renderFields, payloadJson, hex, bytesToHex, escapeBytes, nulStrings, MAX_SHOWN_STRINGS } from './fields';
export { decodeUtf8, printable, printableLines, quote } from './text';
export type { FieldNode, JsonValue } from './fields';
export { Ckpt, RecordType, recordTypeName, recordTypeLabel, enumLabel, flagLabels, schema, HEADER_SIZE } from './format';
export { MemoryMap, protString } from './memoryMap';
export type { MemoryPiece, VmaInfo, PageSegment } from './memoryMap';
export { decodePayload, payloadTypeName } from './payload';
export type { Payload, PayloadByType, PayloadLabel } from './payload';
export { indexRecords } from './recordIndex';
export type { RecordEntry, RecordIndex } from './recordIndex';
export { buildRecordTree, ALLOWED_PARENTS } from './recordTree';
export type { RecordTree } from './recordTree';
export { processState, summarizeImage } from './summary';
export type { ImageSummary, ProcessSummary, ThreadSummary } from './summary';
export { verifyImage } from './verify';
export type { VerifyReport, VerifyOptions, VerifyProgress } from './verify';
export { xxh64, xxh64Low32, xxh64Blocks, hashPagesInPlace, Xxh64 } from './xxhash64';
// Comparing images and searching memory: each folder's index is the one list of what it exports.
export * from './diff';
export * from './search';
