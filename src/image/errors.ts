// Errors and problems that name where in the image they are: the record (number, type, tag),
// the field, and the byte offset in the file, so that a damaged image can be found and mended.

import { recordTypeName, schema } from './format';

export type ProblemCode =
  | 'not-an-image'
  | 'bad-magic'
  | 'bad-version'
  | 'truncated'
  | 'bad-header-checksum'
  | 'bad-length'
  | 'bad-checksum'
  | 'bad-page-hash'
  | 'bad-tag'
  | 'duplicate-tag'
  | 'dangling-ptag'
  | 'cyclic-ptag'
  | 'misplaced-record'
  | 'unknown-type'
  | 'bad-payload'
  | 'bad-tail'
  | 'inconsistent'
  | 'bad-flags'
  | 'broken-rule'
  | 'too-many-records';

/**
 * How much a problem matters: a record of a type this reader does not know is skipped and noted
 * (a newer writer's), every other problem is an error (the image, or part of it, cannot be trusted).
 */
export type ProblemSeverity = 'error' | 'note';
export function problemSeverity(code: ProblemCode): ProblemSeverity {
  return code === 'unknown-type' ? 'note' : 'error';
}

/** Where a problem is: a record (when known) and a byte offset in the file. */
export interface ProblemSite {
  /** Index of the record in file order, 0 for the head. */
  record?: number;
  type?: number;
  tag?: number;
  /** Field path inside the payload, e.g. 'path.value' or 'runs[3].vaddr'. */
  field?: string;
  /** Byte offset in the file. */
  offset: number;
}

export interface ImageProblem extends ProblemSite {
  code: ProblemCode;
  /** Problems that stop the image from being read at all, as opposed to a damaged record. */
  fatal: boolean;
  message: string;
  /** For code 'broken-rule': the id of the .ksy rule (-ckpt-rules) it breaks. */
  rule?: string;
}

export function siteText(site: ProblemSite): string {
  const parts: string[] = [];
  if (site.record !== undefined) {
    let r = `record #${site.record}`;
    if (site.type !== undefined) r += ` ${recordTypeName(site.type)}`;
    if (site.tag !== undefined) r += ` (tag ${site.tag})`;
    parts.push(r);
  }
  if (site.field) parts.push(`field '${site.field}'`);
  parts.push(`file offset 0x${site.offset.toString(16)}`);
  return parts.join(', ');
}

export function problem(code: ProblemCode, site: ProblemSite, what: string, fatal = false): ImageProblem {
  return { code, fatal, ...site, message: `${siteText(site)}: ${what}` };
}

/** Thrown when an image cannot be opened or a record cannot be decoded. */
export class ImageError extends Error {
  constructor(readonly problem: ImageProblem) {
    super(problem.message);
    this.name = 'ImageError';
  }
  get code(): ProblemCode {
    return this.problem.code;
  }
}

export type RuleId = keyof typeof schema.rules;

/** The problem of a record that breaks a named rule of the .ksy. */
export function ruleProblem(rule: RuleId, site: ProblemSite, what: string): ImageProblem {
  if (!(rule in schema.rules)) throw new Error(`no rule ${rule} in the format`);
  return { ...problem('broken-rule', site, `${what} (rule ${rule})`), rule };
}
