/** CRC-32 (IEEE, as zlib/PNG): guards index files against truncation and bit rot. */
let table: Uint32Array | null = null;

function makeTable(): Uint32Array {
  const t = new Uint32Array(256 * 4);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  // Slicing-by-4 tables: four bytes per step instead of one.
  for (let i = 0; i < 256; i++) {
    t[256 + i] = (t[t[i]! & 0xff]! ^ (t[i]! >>> 8)) >>> 0;
    t[512 + i] = (t[t[256 + i]! & 0xff]! ^ (t[256 + i]! >>> 8)) >>> 0;
    t[768 + i] = (t[t[512 + i]! & 0xff]! ^ (t[512 + i]! >>> 8)) >>> 0;
  }
  return t;
}

export function crc32(bytes: Uint8Array, seed = 0): number {
  const t = (table ??= makeTable());
  let c = ~seed >>> 0;
  let i = 0;
  const end4 = bytes.length & ~3;
  for (; i < end4; i += 4) {
    c ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    c = t[768 + (c & 0xff)]! ^ t[512 + ((c >>> 8) & 0xff)]! ^ t[256 + ((c >>> 16) & 0xff)]! ^ t[(c >>> 24) & 0xff]!;
  }
  for (; i < bytes.length; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
