import { describe, expect, it } from 'vitest';
import {
  DenseDataset,
  HnswIndex,
  RabitqQuantizer,
  type RabitqStore,
  readIndexBlob,
  ScalarQuantizer,
  SparseDataset,
  serializeIndex,
  WebannoloError,
} from '../src/index.js';
import { serializeIndexPieces } from '../src/indexes/index-codec.js';
import { crc32 } from '../src/io/crc32.js';
import { type ByteSource, readIndexFrom } from '../src/storage/read-index.js';
import { Rng } from '../src/util/rng.js';

const blob = (bytes: Uint8Array): Blob => new Blob([bytes as Uint8Array<ArrayBuffer>]);

/** Bit-by-bit CRC-32, the definition itself. */
function crcReference(bytes: Uint8Array, seed = 0): number {
  let c = ~seed >>> 0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return ~c >>> 0;
}

const rng = new Rng(11);
const dense = new DenseDataset(
  Float32Array.from({ length: 500 * 16 }, () => rng.nextOpenUnit()),
  16,
);
const labels = Array.from({ length: 500 }, (_, i) => i % 7);
const index = HnswIndex.build(dense, { metric: 'l2', m: 8, efConstruction: 40, seed: 3, labels });

/** A ByteSource over bytes that counts its reads (and can lose its tail, as a file that shrank). */
function source(bytes: Uint8Array, shrinkTo = bytes.length): ByteSource & { reads: number } {
  const s = {
    size: bytes.length,
    reads: 0,
    async read(start: number, end: number) {
      s.reads++;
      return bytes.slice(start, Math.min(end, shrinkTo));
    },
  };
  return s;
}

async function code(p: Promise<unknown>): Promise<string | null> {
  try {
    await p;
    return null;
  } catch (e) {
    if (!(e instanceof WebannoloError)) throw e;
    return e.code;
  }
}

describe('crc32', () => {
  it('matches the bit-by-bit definition on every path (JS tail, WebAssembly kernel, pieces and seeds)', () => {
    const bytes = Uint8Array.from({ length: (1 << 20) * 2 + 37 }, (_, i) => (i * 2654435761) >>> 24);
    for (const n of [0, 1, 3, 4, 7, 8, 9, 16383, 16384, 16391, 70_001, bytes.length]) {
      const part = bytes.subarray(0, n);
      expect(crc32(part), `length ${n}`).toBe(crcReference(part));
    }
    // Continuing a CRC over a split gives the CRC of the whole, at any split (unaligned too).
    for (const at of [5, 20_000, 1_048_581]) expect(crc32(bytes.subarray(at), crc32(bytes.subarray(0, at)))).toBe(crcReference(bytes));
    // An unaligned view.
    expect(crc32(bytes.subarray(3, 50_003))).toBe(crcReference(bytes.subarray(3, 50_003)));
  });
});

describe('index pieces and streamed reading', () => {
  it('pieces concatenate to exactly serializeIndex (CRC appended)', () => {
    const whole = serializeIndex(index);
    const { byteLength, pieces } = serializeIndexPieces(index);
    expect(byteLength).toBe(whole.length);
    const joined = new Uint8Array(byteLength);
    let at = 0;
    for (const p of pieces) {
      joined.set(p, at);
      at += p.length;
    }
    expect(at).toBe(byteLength - 4);
    new DataView(joined.buffer).setUint32(at, crc32(joined.subarray(0, at)), true);
    expect(joined).toEqual(whole);
  });

  it('reads dense (with labels), f16 and sparse indexes from a Blob in small chunks, results identical', async () => {
    const f16 = HnswIndex.buildOnStore(new ScalarQuantizer('f16').encode(dense, 'ip'), { m: 8, efConstruction: 40 });
    const sparse = SparseDataset.fromRows(
      Array.from({ length: 200 }, (_, i) => ({ indices: Uint32Array.of(i % 5, 10 + (i % 11)), values: Float32Array.of(1, 0.5 + (i % 3)) })),
      30,
    );
    const sparseIndex = HnswIndex.build(sparse, { metric: 'ip', m: 8, efConstruction: 40 });
    for (const [built, queries] of [
      [index, dense.slice(0, 30)],
      [f16, dense.slice(0, 30)],
      [sparseIndex, sparse.slice(0, 30)],
    ] as const) {
      const bytes = serializeIndex(built);
      for (const chunkBytes of [104, 1 << 20]) {
        const copy = await readIndexBlob(blob(bytes), { chunkBytes });
        expect(serializeIndex(copy)).toEqual(bytes);
        const a = await built.searchBatch(queries, 5);
        const b = await copy.searchBatch(queries, 5);
        expect(Array.from(b.ids)).toEqual(Array.from(a.ids));
      }
    }
  });

  it('reads a RaBitQ index in place (codes and factors into the SIMD memory, links into the graph): same results, re-ranked, and it still changes', async () => {
    const rabitq = index.quantize(new RabitqQuantizer({ bits: 2 }));
    const bytes = serializeIndex(rabitq);
    const queries = dense.slice(0, 30);
    for (const chunkBytes of [104, 1 << 20]) {
      const copy = await readIndexBlob(blob(bytes), { chunkBytes });
      if (!(copy instanceof HnswIndex)) throw new Error('expected an HNSW index');
      expect(serializeIndex(copy)).toEqual(bytes);
      expect((copy.store as RabitqStore).kernels).toBe('wasm-simd');
      for (const params of [{ ef: 40 }, { ef: 40, rerank: 40 }]) {
        const a = await rabitq.searchBatch(queries, 5, params);
        const b = await copy.searchBatch(queries, 5, params);
        expect(Array.from(b.ids)).toEqual(Array.from(a.ids));
        expect(Array.from(b.scores)).toEqual(Array.from(a.scores));
      }
      // New items go into the adopted memory's successor: each is found again at distance 0 beside its twin.
      copy.add(dense.slice(0, 3), undefined, { labels: [0, 0, 0] });
      expect(Array.from(copy.search(dense.get(1), 2, { ef: 40, rerank: 40 }).ids)).toContain(copy.size - 2);
    }
  });

  it('reads the file a chunk at a time', async () => {
    const bytes = serializeIndex(index);
    const s = source(bytes);
    await readIndexFrom(s, { chunkBytes: 4096 });
    // The header read, then one read per chunk.
    expect(s.reads).toBe(1 + Math.ceil(bytes.length / 4096));
  });

  it('refuses damaged, cut-off, shrinking and foreign files as deserializeIndex does', async () => {
    const bytes = serializeIndex(index);
    const flipped = bytes.slice();
    flipped[bytes.length >> 1]! ^= 0x10;
    expect(await code(readIndexBlob(blob(flipped)))).toBe('CORRUPT_FILE');
    const cut = bytes.subarray(0, bytes.length - 100);
    expect(await code(readIndexBlob(blob(cut)))).toBe('TRUNCATED_FILE');
    expect(await code(readIndexFrom(source(bytes, bytes.length - 9), { chunkBytes: 4096 }))).toBe('TRUNCATED_FILE');
    expect(await code(readIndexBlob(blob(new Uint8Array(100).fill(7))))).toBe('FOREIGN_FILE');
    expect(await code(readIndexBlob(blob(bytes.subarray(0, 10))))).toBe('TRUNCATED_FILE');
    const tailFlip = bytes.slice();
    tailFlip[bytes.length - 1]! ^= 1;
    expect(await code(readIndexBlob(blob(tailFlip), { chunkBytes: 3 << 3 }))).toBe('CORRUPT_FILE');
  });
});
