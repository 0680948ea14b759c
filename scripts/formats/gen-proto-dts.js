'use strict';
// TypeScript declarations for CRIU's messages as the explorer decodes them (protobuf.js's
// toObject with 64-bit values as BigInt, enums as numbers, repeated fields always present), from
// the JSON descriptor that build-formats.js makes of formats/criu/*.proto. Every other field is
// optional, as in the .proto: a message may lack any of them.

const SCALARS = {
  double: 'number',
  float: 'number',
  int32: 'number',
  uint32: 'number',
  sint32: 'number',
  fixed32: 'number',
  sfixed32: 'number',
  int64: 'bigint',
  uint64: 'bigint',
  sint64: 'bigint',
  fixed64: 'bigint',
  sfixed64: 'bigint',
  bool: 'boolean',
  string: 'string',
  bytes: 'Uint8Array',
};

const upperCamel = (s) =>
  s
    .split(/[_-]/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');

function genProtoDts(json, pkg = 'criu') {
  const nested = json.nested[pkg].nested;
  let out = '// Generated from formats/criu/*.proto by scripts/formats/gen-proto-dts.js. Do not edit.\n\n';
  for (const [name, def] of Object.entries(nested)) {
    // Enums are numbers here; their names are in the descriptor, for display.
    if (!def.fields) continue;
    if (def.comment) out += `/** ${def.comment} */\n`;
    out += `export interface ${upperCamel(name)} {\n`;
    for (const [field, f] of Object.entries(def.fields)) {
      let t = SCALARS[f.type];
      if (!t) t = nested[f.type]?.values ? 'number' : upperCamel(f.type);
      if (f.comment) out += `  /** ${f.comment} */\n`;
      out += f.rule === 'repeated' ? `  ${field}: ${t}[];\n` : `  ${field}?: ${t};\n`;
    }
    out += '}\n\n';
  }
  return out;
}

module.exports = { genProtoDts };
