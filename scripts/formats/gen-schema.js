'use strict';
// A JSON description of the format for code that shows records to people: field order, docs,
// display hints (`-ckpt-display`), enum labels, and which payload type each record type has.
// The CLI and the editor render decoded records from it instead of hard-coding field lists.

const { lowerCamel, INT_SIZES, fixedFieldSize, fixedTypeSize, recordAlign } = require('./ksy-model');

function fieldKind(f) {
  if (f.contents !== undefined) return 'contents';
  if (INT_SIZES[f.type]) return f.type;
  if (f.type === 'str' || f.type === 'strz') return 'str';
  if (f.type === undefined) return 'bytes';
  if (typeof f.type === 'object') return 'switch';
  return 'type';
}

/** Switch cases keyed by the enum label (or the literal) they match. */
function switchCases(cases) {
  return Object.fromEntries(Object.entries(cases).map(([k, v]) => [String(k).replace(/^.*::/, ''), v]));
}

function genSchema(ksy) {
  const types = {};
  for (const [name, t] of Object.entries(ksy.types || {})) {
    types[name] = {
      doc: String(t.doc || '').trim(),
      fields: (t.seq || []).map((f) => ({
        id: f.id,
        prop: lowerCamel(f.id),
        kind: fieldKind(f),
        ...(typeof f.type === 'string' && !INT_SIZES[f.type] && f.type !== 'str' ? { type: f.type } : {}),
        ...(f.enum ? { enum: f.enum } : {}),
        ...(f['-ckpt-display'] ? { display: f['-ckpt-display'] } : {}),
        ...(f['-ckpt-flags'] ? { flags: f['-ckpt-flags'] } : {}),
        ...(f['-ckpt-labels'] ? { labels: f['-ckpt-labels'] } : {}),
        ...(f['-ckpt-sentinels'] ? { sentinels: Object.fromEntries(Object.entries(f['-ckpt-sentinels']).map(([v, w]) => [String(v), String(w)])) } : {}),
        ...(f['-ckpt-index-enum'] ? { indexEnum: f['-ckpt-index-enum'], indexBase: f['-ckpt-index-base'] ?? 0 } : {}),
        ...(f.repeat ? { repeat: true } : {}),
        ...(f.if !== undefined ? { optional: true } : {}),
        ...(f.size !== undefined ? { size: f.size } : {}),
        ...(f['repeat-expr'] !== undefined ? { repeatExpr: f['repeat-expr'] } : {}),
        ...(f.contents !== undefined ? { contents: Array.isArray(f.contents) ? f.contents : [...Buffer.from(String(f.contents))] } : {}),
        ...(typeof f.type === 'object' ? { switchOn: f.type['switch-on'], cases: switchCases(f.type.cases) } : {}),
        doc: String(f.doc || '').trim(),
      })),
    };
  }
  const enums = {};
  for (const [name, values] of Object.entries(ksy.enums || {})) {
    enums[name] = Object.fromEntries(Object.entries(values).map(([v, l]) => [v, typeof l === 'object' ? l.id : l]));
  }
  // What enum values mean, where the .ksy says it in a doc (shown beside the value).
  const enumDocs = {};
  for (const [name, values] of Object.entries(ksy.enums || {})) {
    const docs = Object.entries(values).filter(([, l]) => typeof l === 'object' && l.doc);
    if (docs.length) enumDocs[name] = Object.fromEntries(docs.map(([v, l]) => [v, String(l.doc).trim()]));
  }
  const payloadField = ksy.types.record.seq.find((f) => f.id === 'payload');
  const payloadTypes = {};
  for (const [k, v] of Object.entries(payloadField.type.cases)) payloadTypes[k.replace(/^record_type::/, '')] = v;
  // What a sound image is: the same tables the C reader is generated from (gen-c-header.js).
  const grammar = {};
  for (const [label, g] of Object.entries(ksy.meta['-ckpt-grammar'])) {
    grammar[label] = {
      parents: g.parents.map((p) => (p === 'top' ? '' : p)),
      min: g.min ?? 0,
      max: g.max ?? 0,
      ...(g.count ? { count: lowerCamel(g.count) } : {}),
      flags: g.flags ?? [],
      imageMin: g['image-min'] ?? 0,
      imageMax: g['image-max'] ?? 0,
    };
  }
  const rules = Object.fromEntries(Object.entries(ksy.meta['-ckpt-rules']).map(([id, doc]) => [id, String(doc).trim()]));
  const limits = {
    maxMetadataPayload: ksy.meta['-ckpt-limits'].max_metadata_payload,
    maxRecords: ksy.meta['-ckpt-limits'].max_records,
    maxZstdChunk: ksy.meta['-ckpt-limits'].max_zstd_chunk,
  };
  // The layout facts readers need before they parse anything: the record header's size, how much of
  // it header_sum covers, what records are aligned to, and the magics that open and close an image.
  const header = ksy.types.record_header.seq;
  const summed = header
    .slice(
      0,
      header.findIndex((f) => f.id === 'header_sum'),
    )
    .reduce((n, f) => n + fixedFieldSize(f, ksy.types), 0);
  const magic = (type) => ksy.types[type].seq.find((f) => f.id === 'magic').contents;
  const headerSize = fixedTypeSize('record_header', ksy.types);
  const align = recordAlign(ksy.types);
  // Writers pad payloads only: a header must keep the next payload (and header) aligned too.
  if (headerSize % align) throw new Error(`the record header (${headerSize} bytes) is not a multiple of the record alignment ${align}`);
  const layout = { headerSize, headerSummed: summed, recordAlign: align, headMagic: magic('head'), tailMagic: magic('tail') };
  return { version: ksy.meta['-ckpt-version'], types, enums, enumDocs, payloadTypes, grammar, rules, limits, layout };
}

module.exports = { genSchema };
