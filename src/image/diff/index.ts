// Comparing two images: the structural diff with per-VMA changed pages (one page's bytes side
// by side come from checkpointPageBytes in src/checkpoint, for either format).

export { compareImages, matchVmas } from './compareImages';
export { DIFF_KINDS } from './types';
export { countsText, pagesText, plural } from './words';
export type { KindCounts } from './words';
export type {
  Change,
  ChangeCounts,
  CompareOptions,
  CompareProgress,
  DiffCounts,
  DiffKind,
  DiffNode,
  FieldChange,
  ImageDiff,
  ImageSide,
  PageChange,
  PageCounts,
  PageDiff,
  PageMethod,
  PageRange,
  RegisterRow,
  VmaAspect,
  VmaSide,
} from './types';
