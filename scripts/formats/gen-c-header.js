'use strict';
// The C view of the .ksy for the native checkpointer: enums, magics, the format version, and a
// packed struct for the fixed-size leading fields of every record payload. The C writer fills
// the struct and then appends the variable-size fields (listed in a comment after each struct)
// in order. Sizes are asserted at compile time; the conformance tests decode what C writes.

const { fixedFieldSize, fixedTypeSize, fixedPrefix, INT_SIZES } = require('./ksy-model');

const C_INT = { u1: 'uint8_t', u2: 'uint16_t', u4: 'uint32_t', u8: 'uint64_t', s1: 'int8_t', s2: 'int16_t', s4: 'int32_t', s8: 'int64_t' };

function cMember(field, types) {
  const count = field.repeat ? field['repeat-expr'] : null;
  const dim = count ? `[${count}]` : '';
  if (field.contents !== undefined) return `uint8_t ${field.id}[${fixedFieldSize(field, types)}];`;
  if (INT_SIZES[field.type]) return `${C_INT[field.type]} ${field.id}${dim};`;
  if (typeof field.size === 'number') return `uint8_t ${field.id}[${field.size}]${dim};`;
  return `struct ckpt_${field.type} ${field.id}${dim};`;
}

function describeRest(field) {
  if (field.contents !== undefined) return `${field.id} (contents)`;
  const t = typeof field.type === 'object' ? `switch on ${field.type['switch-on']}` : field.type || 'bytes';
  const size = field.size !== undefined ? `, size ${field.size}` : '';
  const rep = field.repeat ? `, repeated ${field['repeat-expr'] ?? field.repeat}` : '';
  return `${field.id} (${t}${size}${rep})`;
}

function firstSentence(doc) {
  const flat = String(doc).trim().replace(/\s+/g, ' ');
  const end = flat.indexOf('. ');
  return end < 0 ? flat : flat.slice(0, end + 1);
}

function cString(bytes) {
  return `"${bytes.map((b) => (b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('')}"`;
}

function genCHeader(ksy) {
  const types = ksy.types || {};
  const version = ksy.meta['-ckpt-version'];
  const headMajor = types.head.seq.find((f) => f.id === 'version_major');
  if (!version || headMajor.valid !== version.major) {
    throw new Error('meta/-ckpt-version/major must equal the valid: value of head.version_major');
  }
  let out = '/* Generated from formats/ckpt.ksy by scripts/formats/gen-c-header.js. Do not edit. */\n';
  out += '#ifndef CKPT_FORMAT_H\n#define CKPT_FORMAT_H\n\n#include <stdint.h>\n\n';
  out += `#define CKPT_VERSION_MAJOR ${version.major}\n#define CKPT_VERSION_MINOR ${version.minor}\n\n`;

  for (const [name, values] of Object.entries(ksy.enums || {})) {
    out += `enum ckpt_${name} {\n`;
    for (const [value, label] of Object.entries(values)) {
      const id = typeof label === 'object' ? label.id : label;
      out += `\tCKPT_${name.toUpperCase()}_${String(id).toUpperCase()} = ${value},\n`;
    }
    out += '};\n\n';
    // The format's own name of a value, for messages; NULL for a value the format does not name.
    out += `static inline const char *ckpt_${name}_name(uint64_t v)\n{\n\tswitch (v) {\n`;
    for (const [value, label] of Object.entries(values)) {
      out += `\tcase ${value}:\n\t\treturn "${typeof label === 'object' ? label.id : label}";\n`;
    }
    out += '\tdefault:\n\t\treturn 0;\n\t}\n}\n\n';
  }

  // Emit nested structs before their users.
  const emitted = new Set();
  const emit = (name) => {
    if (emitted.has(name)) return;
    emitted.add(name);
    const { prefix, rest } = fixedPrefix(name, types);
    for (const f of prefix) if (typeof f.type === 'string' && types[f.type]) emit(f.type);
    for (const f of prefix) {
      if (f.contents !== undefined) {
        const bytes = Array.isArray(f.contents) ? f.contents : [...Buffer.from(String(f.contents))];
        out += `#define CKPT_${name.toUpperCase()}_${f.id.toUpperCase()} ${cString(bytes)}\n`;
        out += `#define CKPT_${name.toUpperCase()}_${f.id.toUpperCase()}_LEN ${bytes.length}\n`;
      }
    }
    const whole = fixedTypeSize(name, types) !== null;
    const sname = whole ? `ckpt_${name}` : `ckpt_${name}_fixed`;
    const size = prefix.reduce((n, f) => n + fixedFieldSize(f, types), 0);
    if (prefix.length > 0) {
      out += `/* ${firstSentence(types[name].doc || name)} */\n`;
      out += `struct ${sname} {\n`;
      for (const f of prefix) out += `\t${cMember(f, types)}\n`;
      out += '} __attribute__((packed));\n';
      out += `_Static_assert(sizeof(struct ${sname}) == ${size}, "${sname} size");\n`;
      out += `#define CKPT_${name.toUpperCase()}_FIXED_SIZE ${size}\n`;
    }
    if (!whole) out += `/* ${name}: after the fixed part come ${rest.map(describeRest).join(', ')}. */\n`;
    out += '\n';
  };
  // `record` is the whole-file view (header + payload + padding); C writes its parts itself.
  for (const name of Object.keys(types)) if (name !== 'record') emit(name);
  out += '#endif /* CKPT_FORMAT_H */\n';
  return out;
}

module.exports = { genCHeader };
