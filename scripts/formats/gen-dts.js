'use strict';
// TypeScript declarations for the JavaScript that kaitai-struct-compiler generates, so that a
// misspelled field is a compile error. Every u8/s8 is declared `bigint`: the decoder parses
// payloads with a stream that reads 64-bit integers as BigInt (src/image/bigintStream.ts).

const { upperCamel, lowerCamel, INT_SIZES } = require('./ksy-model');

function tsTypeOf(field, rootName) {
  let t;
  if (field.contents !== undefined) t = 'Uint8Array';
  // A u8 is a BigInt even with an enum: the generated code assigns the raw value.
  else if (INT_SIZES[field.type]) t = INT_SIZES[field.type] === 8 ? 'bigint' : field.enum ? `${rootName}.${upperCamel(field.enum)}` : 'number';
  else if (field.type === 'str' || field.type === 'strz') t = 'string';
  else if (field.type === undefined) t = 'Uint8Array';
  else if (typeof field.type === 'object' && field.type['switch-on'] !== undefined) {
    const cases = [...new Set(Object.values(field.type.cases).map((c) => `${rootName}.${upperCamel(c)}`))];
    t = `(${[...cases, 'Uint8Array'].join(' | ')})`;
  } else t = `${rootName}.${upperCamel(field.type)}`;
  const full = field.repeat ? `${t}[]` : t;
  // A field with `if:` is absent (undefined) when its condition is false, e.g. in older images.
  return field.if !== undefined ? `${full} | undefined` : full;
}

function docComment(doc, indent) {
  if (!doc) return '';
  const lines = String(doc).trim().split('\n');
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`.trimEnd()).join('\n')}\n${indent} */\n`;
}

function classBody(type, rootName, indent) {
  let out = '';
  out += `${indent}constructor(io: KaitaiStream, parent?: unknown, root?: unknown);\n`;
  out += `${indent}_read(): void;\n`;
  out += `${indent}_io: KaitaiStream;\n`;
  out += `${indent}/** Offsets of each field, recorded because the parser is compiled in debug mode. */\n`;
  out += `${indent}_debug: Record<string, KsyDebugSpan>;\n`;
  for (const f of type.seq || []) {
    out += docComment(f.doc, indent);
    out += `${indent}${lowerCamel(f.id)}: ${tsTypeOf(f, rootName)};\n`;
  }
  return out;
}

function genDts(ksy) {
  const rootName = upperCamel(ksy.meta.id);
  const types = ksy.types || {};
  let out = '// Generated from the .ksy by scripts/formats/gen-dts.js. Do not edit.\n';
  out += "import KaitaiStream from 'kaitai-struct/KaitaiStream';\n\n";
  out += 'export interface KsyDebugSpan {\n  start: number;\n  end?: number;\n  ioOffset: number;\n  enumName?: string;\n  arr?: KsyDebugSpan[];\n}\n\n';
  out += docComment(ksy.doc, '');
  out += `export declare class ${rootName} {\n${classBody(ksy, rootName, '  ')}}\n\n`;
  out += `export declare namespace ${rootName} {\n`;
  for (const [name, values] of Object.entries(ksy.enums || {})) {
    out += `  enum ${upperCamel(name)} {\n`;
    for (const [value, label] of Object.entries(values)) {
      const id = typeof label === 'object' ? label.id : label;
      out += `    ${String(id).toUpperCase()} = ${value},\n`;
    }
    out += '  }\n';
  }
  for (const [name, type] of Object.entries(types)) {
    out += docComment(type.doc, '  ');
    out += `  class ${upperCamel(name)} {\n${classBody(type, rootName, '    ')}  }\n`;
  }
  out += '}\n';
  // The payload class of each record type, by the record type's label: what decodeAs() returns.
  const payload = types.record?.seq.find((f) => f.id === 'payload');
  if (payload) {
    out += '\n/** The generated payload class of each record type, by its label in record_type. */\n';
    out += `export interface ${rootName}Payloads {\n`;
    for (const [k, v] of Object.entries(payload.type.cases)) out += `  ${k.replace(/^record_type::/, '')}: ${rootName}.${upperCamel(v)};\n`;
    out += '}\n';
  }
  return out;
}

module.exports = { genDts };
