// Rewriting a real image with some records changed and every checksum sound again: what an
// attacker with a hex editor and the format's documentation can do (checksums are no signature).
// Pages (and file_data) records keep their bytes and their payload sum, the pad before them is sized again to
// keep them on a page; every other record is written again, its sums computed anew.

import fs from 'node:fs';
import { CheckpointImage, payloadTypeName, RecordType } from '../../src/image';
import type { RecordEntry } from '../../src/image';
import { encodePayload, ImageWriter } from '../../src/image/write/imageWriter';

/** `img` written again as `out` (mode 0600), with the payload `replace` returns for a record in place of its own. */
export async function reseal(img: CheckpointImage, out: string, replace: (r: RecordEntry) => Uint8Array | undefined): Promise<void> {
  const fd = fs.openSync(out, 'w', 0o600);
  try {
    const w = ImageWriter.toFile(fd, img.pageSize);
    const ps = img.pageSize;
    for (let i = 0; i < img.records.length; i++) {
      const r = img.records[i];
      const opts = { ptag: r.ptag, tag: r.tag, flags: r.flags };
      if (r.type === RecordType.TAIL) w.tail();
      else if (r.type === RecordType.PAGES || r.type === RecordType.FILE_DATA) w.raw(r.type, await img.readPayload(r), { ...opts, payloadSum: r.payloadSum });
      else if (r.type === RecordType.PAD && (img.records[i + 1]?.type === RecordType.PAGES || img.records[i + 1]?.type === RecordType.FILE_DATA)) {
        // records before it may have changed size: the pad keeps the page data on a page
        w.raw(r.type, new Uint8Array((ps - ((w.offset + 64) % ps)) % ps), opts);
      } else w.raw(r.type, replace(r) ?? (await img.readPayload(r)), opts);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** A decoded payload as the writer takes it: schema properties, strings for lstr fields. */
export type PayloadFields = Record<string, unknown>;

/**
 * The image at `image` written again as `out`, each record for which `edit` returns fields
 * re-encoded from them. `edit` gets the schema type name (`process`, `fd`, `thread`, ...) and
 * the decoded payload; what it returns replaces the payload's fields (spread it to keep the rest;
 * counts and lengths it sets to undefined are computed again).
 */
export async function resealEdited(image: string, out: string, edit: (typeName: string, payload: PayloadFields, r: RecordEntry) => PayloadFields | undefined): Promise<void> {
  const img = await CheckpointImage.open(image);
  try {
    const edited = new Map<RecordEntry, Uint8Array>();
    for (const r of img.records) {
      const typeName = payloadTypeName(r.type);
      if (!typeName || r.type === RecordType.PAGES) continue;
      const fields = edit(typeName, (await img.decode(r)) as unknown as PayloadFields, r);
      if (fields) edited.set(r, encodePayload(typeName, fields));
    }
    await reseal(img, out, (r) => edited.get(r));
  } finally {
    await img.close();
  }
}
