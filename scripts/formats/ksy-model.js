'use strict';
// Loads a .ksy file and describes each of its types in the terms the generators need:
// which fields are fixed-size (and so can be C struct members), how each field's value looks
// in TypeScript, and the docs and display hints beside each field. One reading of the .ksy
// serves the .d.ts, the C header and the field schema, so they cannot disagree.

const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');

const INT_SIZES = { u1: 1, u2: 2, u4: 4, u8: 8, s1: 1, s2: 2, s4: 4, s8: 8 };

function loadKsy(file) {
  return yaml.load(fs.readFileSync(file, 'utf8'), { filename: file });
}

/** Importer in the shape kaitai-struct-compiler expects, resolving imports beside `file`. */
function ksyImporter(file) {
  const dir = path.dirname(file);
  return {
    importYaml(name, mode) {
      const target = mode === 'abs' ? path.join(dir, name) : name;
      return Promise.resolve(loadKsy(target.endsWith('.ksy') ? target : `${target}.ksy`));
    },
  };
}

const upperCamel = (s) =>
  s
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
const lowerCamel = (s) => {
  const u = upperCamel(s);
  return u.charAt(0).toLowerCase() + u.slice(1);
};

/** Size in bytes of a field whose size does not depend on the data, else null. */
function fixedFieldSize(field, types) {
  let one;
  if (field.contents !== undefined) {
    one = Array.isArray(field.contents) ? field.contents.length : Buffer.byteLength(String(field.contents));
  } else if (INT_SIZES[field.type]) {
    one = INT_SIZES[field.type];
  } else if (typeof field.size === 'number' && (field.type === undefined || field.type === 'str')) {
    one = field.size;
  } else if (typeof field.type === 'string' && types[field.type]) {
    one = fixedTypeSize(field.type, types);
  } else {
    return null;
  }
  if (one === null) return null;
  if (field.repeat === undefined) return one;
  if (field.repeat === 'expr' && typeof field['repeat-expr'] === 'number') return one * field['repeat-expr'];
  return null;
}

/** Size of a user type when every field is fixed-size, else null. */
function fixedTypeSize(name, types) {
  let total = 0;
  for (const f of types[name].seq || []) {
    const n = fixedFieldSize(f, types);
    if (n === null) return null;
    total += n;
  }
  return total;
}

/** The fields of a type up to (not including) the first one whose size depends on the data. */
function fixedPrefix(name, types) {
  const seq = types[name].seq || [];
  const prefix = [];
  for (const f of seq) {
    if (fixedFieldSize(f, types) === null) break;
    prefix.push(f);
  }
  return { prefix, rest: seq.slice(prefix.length) };
}

/**
 * The record alignment: `record.padding` is `(N - header.len % N) % N` zero bytes, so that every
 * header starts at a multiple of N. Read from that expression, the one place the .ksy states it;
 * any other form of it is an error here rather than a reader that pads differently.
 */
function recordAlign(types) {
  const padding = (types.record?.seq || []).find((f) => f.id === 'padding');
  const m = /^\(\s*(\d+)\s*-\s*header\.len\s*%\s*(\d+)\s*\)\s*%\s*(\d+)$/.exec(String(padding?.size ?? '').trim());
  const n = m && Number(m[1]);
  if (!m || Number(m[2]) !== n || Number(m[3]) !== n || n < 1 || (n & (n - 1)) !== 0) {
    throw new Error('record.padding must be sized (N - header.len % N) % N, N a power of two');
  }
  return n;
}

module.exports = { loadKsy, ksyImporter, upperCamel, lowerCamel, fixedFieldSize, fixedTypeSize, fixedPrefix, recordAlign, INT_SIZES };
