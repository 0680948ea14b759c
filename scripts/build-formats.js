#!/usr/bin/env node
'use strict';
// Compiles formats/ckpt.ksy into everything that reads or writes images:
//   build/formats/Ckpt.js         the Kaitai parser (debug mode: field offsets for errors and hex views)
//   build/formats/Ckpt.d.ts       its typings
//   build/formats/ckpt-schema.json field docs, display hints and enums for rendering records
//   build/native/ckpt_format.h    enums, magics and packed structs for the C checkpointer
// and CRIU's image format, which the explorer reads too:
//   build/formats/CriuImage.js, CriuImage.d.ts   the framing of CRIU image files (formats/criu_image.ksy)
//   build/formats/criu-proto.json                the messages of formats/criu/*.proto, for protobuf.js
//   build/formats/CriuMessages.d.ts              their decoded shapes, for TypeScript
// kaitai-struct-compiler is a build tool only; nothing of it is bundled.

const fs = require('fs');
const path = require('path');
const { writeIfChanged } = require('./lib/writeIfChanged');
const { loadKsy, ksyImporter } = require('./formats/ksy-model');
const { genDts } = require('./formats/gen-dts');
const { genCHeader } = require('./formats/gen-c-header');
const { genSchema } = require('./formats/gen-schema');
const { genProtoDts } = require('./formats/gen-proto-dts');

const root = path.resolve(__dirname, '..');
const ksyFile = path.join(root, 'formats', 'ckpt.ksy');
const criuKsyFile = path.join(root, 'formats', 'criu_image.ksy');
const criuProtoDir = path.join(root, 'formats', 'criu');
const outFormats = path.join(root, 'build', 'formats');
const outNative = path.join(root, 'build', 'native');

async function main() {
  const ksy = loadKsy(ksyFile);
  const compiler = require('kaitai-struct-compiler');
  let outputs;
  try {
    outputs = await compiler.compile('javascript', ksy, ksyImporter(ksyFile), true);
  } catch (e) {
    throw new Error(`kaitai-struct-compiler rejected ${path.relative(root, ksyFile)}: ${e.message || e}`);
  }
  const written = [];
  for (const [name, source] of Object.entries(outputs)) {
    if (writeIfChanged(path.join(outFormats, name), source)) written.push(name);
  }
  if (writeIfChanged(path.join(outFormats, 'Ckpt.d.ts'), genDts(ksy))) written.push('Ckpt.d.ts');
  if (writeIfChanged(path.join(outFormats, 'ckpt-schema.json'), JSON.stringify(genSchema(ksy), null, 1) + '\n')) written.push('ckpt-schema.json');
  if (writeIfChanged(path.join(outNative, 'ckpt_format.h'), genCHeader(ksy))) written.push('ckpt_format.h');
  written.push(...(await buildCriu(compiler)));
  console.log(`formats: ${written.length ? `wrote ${written.join(', ')}` : 'up to date'}`);
}

/** CRIU's framing (Kaitai) and messages (protobuf, as protobuf.js's JSON descriptor). */
async function buildCriu(compiler) {
  const written = [];
  const ksy = loadKsy(criuKsyFile);
  let outputs;
  try {
    outputs = await compiler.compile('javascript', ksy, ksyImporter(criuKsyFile), true);
  } catch (e) {
    throw new Error(`kaitai-struct-compiler rejected ${path.relative(root, criuKsyFile)}: ${e.message || e}`);
  }
  for (const [name, source] of Object.entries(outputs)) {
    if (writeIfChanged(path.join(outFormats, name), source)) written.push(name);
  }
  if (writeIfChanged(path.join(outFormats, 'CriuImage.d.ts'), genDts(ksy))) written.push('CriuImage.d.ts');

  const protobuf = require('protobufjs');
  const protoRoot = new protobuf.Root();
  for (const file of fs
    .readdirSync(criuProtoDir)
    .filter((f) => f.endsWith('.proto'))
    .sort()) {
    try {
      protobuf.parse(fs.readFileSync(path.join(criuProtoDir, file), 'utf8'), protoRoot, { keepCase: true, alternateCommentMode: true });
    } catch (e) {
      throw new Error(`formats/criu/${file}: ${e.message || e}`);
    }
  }
  try {
    protoRoot.resolveAll();
  } catch (e) {
    throw new Error(`formats/criu/*.proto: ${e.message || e}`);
  }
  const descriptor = protoRoot.toJSON({ keepComments: true });
  if (writeIfChanged(path.join(outFormats, 'criu-proto.json'), JSON.stringify(descriptor, null, 1) + '\n')) written.push('criu-proto.json');
  if (writeIfChanged(path.join(outFormats, 'CriuMessages.d.ts'), genProtoDts(descriptor))) written.push('CriuMessages.d.ts');
  return written;
}

main().catch((e) => {
  console.error(`build-formats: ${e.message}`);
  process.exit(1);
});
