// Comparing two images: the structural diff with per-VMA changed pages, and one page's bytes
// side by side.

export { compareImages, matchVmas } from './compareImages';
export { comparePageBytes } from './pageBytes';
export type { PageBytesDiff } from './pageBytes';
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
