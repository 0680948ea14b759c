'use strict';
// The C view of the .ksy for the native checkpointer: enums, magics, the format version, and a
// packed struct for the fixed-size leading fields of every record payload. The C writer fills
// the struct and then appends the variable-size fields (listed in a comment after each struct)
// in order. Sizes are asserted at compile time; the conformance tests decode what C writes.

const { fixedFieldSize, fixedTypeSize, fixedPrefix, recordAlign, INT_SIZES } = require('./ksy-model');
const { validToC } = require('./ksy-expr');

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
  out += `/* Every record header starts at a multiple of this (record.padding). */\n#define CKPT_RECORD_ALIGN ${recordAlign(types)}\n\n`;

  const prefixes = ksy.meta['-ckpt-c-enum-prefix'] || {};
  for (const [name, values] of Object.entries(ksy.enums || {})) {
    out += `enum ckpt_${name} {\n`;
    const prefix = prefixes[name] || `CKPT_${name.toUpperCase()}`;
    for (const [value, label] of Object.entries(values)) {
      const id = typeof label === 'object' ? label.id : label;
      out += `\t${prefix}_${String(id).toUpperCase()} = ${value},\n`;
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
  out += genFieldRules(types);
  out += genSoundness(ksy);
  out += '#endif /* CKPT_FORMAT_H */\n';
  return out;
}

/** The struct a type's fixed fields are read into, as emit() named it. */
function structName(name, types) {
  return fixedTypeSize(name, types) !== null ? `ckpt_${name}` : `ckpt_${name}_fixed`;
}

/**
 * The `valid:` rules of integer fields: ckpt_valid_<type>_<field>(s, v) for each, and
 * ckpt_<type>_invalid(s), the first fixed field of `s` that breaks its rule (NULL: none).
 */
function genFieldRules(types) {
  let out = '/* ---- field rules (`valid:` in the .ksy) ---- */\n\n';
  for (const [name, t] of Object.entries(types)) {
    if (name === 'record') continue;
    const { prefix } = fixedPrefix(name, types);
    const reachable = new Set(prefix.filter((f) => INT_SIZES[f.type] && !f.repeat).map((f) => f.id));
    const checks = [];
    let wrote = false;
    for (const f of t.seq || []) {
      if (!INT_SIZES[f.type] || f.repeat || f.valid === undefined) continue;
      const c = validToC(f.valid, reachable);
      if (!c) continue;
      const sname = structName(name, types);
      const param = prefix.length ? `const struct ${sname} *s` : 'const void *s';
      out += `static inline int ckpt_valid_${name}_${f.id}(${param}, ${C_INT[f.type]} v)\n{\n\t(void)s;\n\treturn ${c};\n}\n`;
      wrote = true;
      if (prefix.includes(f)) checks.push(f.id);
    }
    if (checks.length) {
      out += `static inline const char *ckpt_${name}_invalid(const struct ${structName(name, types)} *s)\n{\n`;
      for (const id of checks) out += `\tif (!ckpt_valid_${name}_${id}(s, s->${id}))\n\t\treturn "${id}";\n`;
      out += '\treturn 0;\n}\n';
    }
    if (wrote) out += '\n';
  }
  return out;
}

/** Limits, the record grammar and the named rules of a sound image (meta in the .ksy). */
function genSoundness(ksy) {
  const types = ksy.types;
  const limits = ksy.meta['-ckpt-limits'];
  const grammar = ksy.meta['-ckpt-grammar'];
  const rules = ksy.meta['-ckpt-rules'];
  const typeValue = (label) => {
    for (const [v, l] of Object.entries(ksy.enums.record_type)) if ((typeof l === 'object' ? l.id : l) === label) return Number(v);
    throw new Error(`-ckpt-grammar names '${label}', which is not a record_type`);
  };
  const payloadOf = Object.fromEntries(Object.entries(types.record.seq.find((f) => f.id === 'payload').type.cases).map(([k, v]) => [k.replace(/^record_type::/, ''), v]));
  let out = '/* ---- what a sound image is (meta -ckpt-limits, -ckpt-grammar, -ckpt-rules) ---- */\n\n';
  for (const [k, v] of Object.entries(limits)) out += `#define CKPT_${k.toUpperCase()} ${v}ULL\n`;
  out += '\n#define CKPT_PARENT_TOP 0 /* a parent "type" that means ptag 0 */\n';
  out += `/* One record type's place in the tree: allowed parent types, how many children of this type
 * each parent must/may have (max 0: any), the byte offset of the parent's u4 field that states
 * their number (-1: none), the header flags it must carry (others carry none), and how many the
 * image must hold at least and at most. */
struct ckpt_grammar {
\tuint32_t type;
\tuint32_t nparents;
\tuint32_t parents[6];
\tuint32_t min, max;
\tint32_t count_off;
\tuint32_t flags;
\tuint32_t image_min, image_max; /* image_max 0: any */
};
static const struct ckpt_grammar ckpt_grammar[] = {
`;
  for (const [label, g] of Object.entries(grammar)) {
    const parents = g.parents.map((p) => (p === 'top' ? 'CKPT_PARENT_TOP' : `CKPT_RECORD_TYPE_${p.toUpperCase()}`));
    if (parents.length > 6) throw new Error(`-ckpt-grammar/${label}: at most 6 parent types`);
    let countOff = -1;
    if (g.count) {
      if (g.parents.length !== 1 || g.parents[0] === 'top') throw new Error(`-ckpt-grammar/${label}: a count needs one parent type`);
      const ptype = payloadOf[g.parents[0]];
      let off = 0;
      for (const f of fixedPrefix(ptype, types).prefix) {
        if (f.id === g.count) {
          if (f.type !== 'u4') throw new Error(`-ckpt-grammar/${label}: count ${g.count} must be a u4`);
          countOff = off;
          break;
        }
        off += fixedFieldSize(f, types);
      }
      if (countOff < 0) throw new Error(`-ckpt-grammar/${label}: ${g.count} is not a fixed field of ${ptype}`);
    }
    const flags = (g.flags || []).map((f) => `CKPT_RECORD_FLAGS_${f.toUpperCase()}`).join(' | ') || '0';
    out += `\t{CKPT_RECORD_TYPE_${label.toUpperCase()}, ${parents.length}, {${parents.join(', ')}}, ${g.min ?? 0}, ${g.max ?? 0}, ${countOff}, ${flags}, ${g['image-min'] ?? 0}, ${g['image-max'] ?? 0}},\n`;
    typeValue(label);
  }
  out += '};\n\n';
  out += 'static inline const struct ckpt_grammar *ckpt_grammar_of(uint32_t type)\n{\n';
  out += '\tfor (unsigned i = 0; i < sizeof(ckpt_grammar) / sizeof(ckpt_grammar[0]); i++)\n\t\tif (ckpt_grammar[i].type == type)\n\t\t\treturn &ckpt_grammar[i];\n\treturn 0;\n}\n\n';
  out += '/* Rules across fields and records; readers name the rule an image breaks. */\nenum ckpt_rule {\n';
  for (const id of Object.keys(rules)) out += `\tCKPT_RULE_${id.toUpperCase()},\n`;
  out += '};\n\nstatic inline const char *ckpt_rule_name(enum ckpt_rule r)\n{\n\tswitch (r) {\n';
  for (const id of Object.keys(rules)) out += `\tcase CKPT_RULE_${id.toUpperCase()}:\n\t\treturn "${id}";\n`;
  out += '\t}\n\treturn "?";\n}\n\n';
  return out;
}

module.exports = { genCHeader };
