// What each CRIU image file holds: its magic (formats/criu_image.ksy), the protobuf message of its
// entries (formats/criu/*.proto), and the name crit gives it. A file whose magic is unknown, or
// known but without a message here, is shown as an unknown image: its entries are listed with their
// raw protobuf fields. Files whose name says what they should be (core-1.img) but whose magic says
// otherwise are damaged.

import { CriuImage } from '../../build/formats/CriuImage';

export interface ImageKind {
  /** The magic's label in the .ksy, and crit's name for the kind (upper case). */
  label: string;
  name: string;
  magic: number;
  /** The message type of its entries (undefined: not declared here; entries are shown raw). */
  message?: string;
  /** A different type for the first entry (pagemap's head). */
  firstMessage?: string;
  /** The field of the message that gives the length of raw bytes following it. */
  extraField?: string;
  /** How its file is named, to tell a damaged magic from an unknown file. */
  file?: RegExp;
}

const M = CriuImage.Magic;

export const IMAGE_KINDS: ImageKind[] = [
  { label: 'inventory', name: 'INVENTORY', magic: M.INVENTORY, message: 'inventory_entry', file: /^inventory\.img$/ },
  { label: 'pstree', name: 'PSTREE', magic: M.PSTREE, message: 'pstree_entry', file: /^pstree\.img$/ },
  { label: 'core', name: 'CORE', magic: M.CORE, message: 'core_entry', file: /^core-\d+\.img$/ },
  { label: 'ids', name: 'IDS', magic: M.IDS, message: 'task_kobj_ids_entry', file: /^ids-\d+\.img$/ },
  { label: 'mm', name: 'MM', magic: M.MM, message: 'mm_entry', file: /^mm-\d+\.img$/ },
  { label: 'pagemap', name: 'PAGEMAP', magic: M.PAGEMAP, message: 'pagemap_entry', firstMessage: 'pagemap_head', file: /^pagemap-\d+\.img$/ },
  { label: 'files', name: 'FILES', magic: M.FILES, message: 'file_entry', file: /^files\.img$/ },
  { label: 'fdinfo', name: 'FDINFO', magic: M.FDINFO, message: 'fdinfo_entry', file: /^fdinfo-\d+\.img$/ },
  { label: 'fs', name: 'FS', magic: M.FS, message: 'fs_entry', file: /^fs-\d+\.img$/ },
  { label: 'pipes_data', name: 'PIPES_DATA', magic: M.PIPES_DATA, message: 'pipe_data_entry', extraField: 'bytes', file: /^pipes-data\.img$/ },
  { label: 'sk_queues', name: 'SK_QUEUES', magic: M.SK_QUEUES, message: 'sk_packet_entry', extraField: 'length', file: /^sk-queues\.img$/ },
  { label: 'timens', name: 'TIMENS', magic: M.TIMENS, message: 'timens_entry', file: /^timens-\d+\.img$/ },
  { label: 'utsns', name: 'UTSNS', magic: M.UTSNS, message: 'utsns_entry', file: /^utsns-\d+\.img$/ },
  { label: 'stats', name: 'STATS', magic: M.STATS, message: 'stats_entry', file: /^stats-(dump|restore)$/ },
  { label: 'seccomp', name: 'SECCOMP', magic: M.SECCOMP, file: /^seccomp\.img$/ },
  { label: 'ipc_var', name: 'IPC_VAR', magic: M.IPC_VAR, file: /^ipcns-var-\d+\.img$/ },
  { label: 'cgroup', name: 'CGROUP', magic: M.CGROUP, file: /^cgroup\.img$/ },
  { label: 'mnts', name: 'MNTS', magic: M.MNTS, file: /^mountpoints-\d+\.img$/ },
];

const BY_MAGIC = new Map(IMAGE_KINDS.map((k) => [k.magic, k]));

export const IMG_COMMON = M.IMG_COMMON;
export const IMG_SERVICE = M.IMG_SERVICE;

export function kindByMagic(magic: number): ImageKind | undefined {
  return BY_MAGIC.get(magic);
}

/** The kind a file's name says it is, if any. */
export function kindByFileName(name: string): ImageKind | undefined {
  return IMAGE_KINDS.find((k) => k.file?.test(name));
}

/** Files of raw page data: pages-N.img. */
export const PAGES_FILE = /^pages-(\d+)\.img$/;

export function magicLabel(magic: number): string {
  return kindByMagic(magic)?.name ?? (magic === IMG_COMMON ? 'IMG_COMMON' : magic === IMG_SERVICE ? 'IMG_SERVICE' : `0x${magic.toString(16).padStart(8, '0')}`);
}
