/**
 * RowFileStore (plain vectors read from a file on demand, over an injected synchronous reader)
 * and the saved-index side of re-ranking from disk (IndexShelf over an in-memory FileStore
 * whose files lock against removal while open, as OPFS access handles do). The browser's OPFS
 * itself runs in Chromium: test/e2e/storage.e2e.ts; Node's fs-backed DiskDenseStore:
 * test/pq-cli.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  closeIndex,
  DenseDataset,
  HnswIndex,
  openIndex,
  PlainDenseStore,
  RowFileStore,
  type RowReader,
  ScalarQuantizer,
  WebannoloError,
} from '../src/index.js';
import { readContainerHeader } from '../src/io/container.js';
import type { FileStore, FileWriter, SyncFile } from '../src/storage/file-store.js';
import { IndexShelf, type ShelfHooks } from '../src/storage/index-shelf.js';
import type { ByteSource } from '../src/storage/read-index.js';
import { Rng } from '../src/util/rng.js';

const DIM = 12;
const rng = new Rng(11);
const data = (n: number) =>
  new DenseDataset(
    Float32Array.from({ length: n * DIM }, () => rng.nextOpenUnit()),
    DIM,
  );

/** A file in memory read through RowReader: counts reads, may cut them short or end early. */
class CountingReader implements RowReader {
  readonly label = 'test file';
  reads: Array<[position: number, bytes: number]> = [];
  closes = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly maxPerRead = Number.POSITIVE_INFINITY,
  ) {}
  read(into: Uint8Array, position: number): number {
    const n = Math.max(0, Math.min(into.length, this.maxPerRead, this.bytes.length - position));
    into.set(this.bytes.subarray(position, position + n));
    this.reads.push([position, n]);
    return n;
  }
  close(): void {
    this.closes++;
  }
}

/** `rows` as a file: `offset` bytes of padding, then the f32 rows. */
function fileOf(rows: DenseDataset, offset: number): Uint8Array {
  const out = new Uint8Array(offset + rows.data.byteLength);
  out.set(new Uint8Array(rows.data.buffer, rows.data.byteOffset, rows.data.byteLength), offset);
  return out;
}

async function failure(p: Promise<unknown> | (() => unknown)): Promise<WebannoloError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (e instanceof WebannoloError) return e;
    throw e;
  }
  throw new Error('expected a WebannoloError');
}

describe('RowFileStore over an injected reader', () => {
  const rows = data(500);
  const query = data(1).get(0);

  it('scores exactly as the in-memory store, adjacent and repeated ids coalesced into one read', () => {
    for (const metric of ['l2', 'ip'] as const) {
      const reader = new CountingReader(fileOf(rows, 40));
      const store = new RowFileStore({ reader, offset: 40, size: 500, dim: DIM, metric });
      const ref = new PlainDenseStore(rows, metric, { simd: false });
      const ids = Uint32Array.from([499, 5, 6, 7, 5, 0, 250, 8, 498]);
      const got = new Float64Array(ids.length);
      const want = new Float64Array(ids.length);
      store.queryEvaluator(query).distances(ids, ids.length, got);
      ref.queryEvaluator(query).distances(ids, ids.length, want);
      expect(got).toEqual(want);
      // 0 | 5..8 (5 twice) | 250 | 498..499: four reads, forwards through the file.
      expect(reader.reads).toEqual([
        [40, DIM * 4],
        [40 + 5 * DIM * 4, 4 * DIM * 4],
        [40 + 250 * DIM * 4, DIM * 4],
        [40 + 498 * DIM * 4, 2 * DIM * 4],
      ]);
      expect(store.itemDistance(4, 9)).toBe(ref.itemDistance(4, 9));
      expect(store.itemEvaluator(11).distance(12)).toBe(ref.itemDistance(11, 12));
      expect(store.vectors).toEqual(rows.data);
      expect(store.byteLength).toBe(0);
      expect(store.diskBytes).toBe(500 * DIM * 4);
    }
  });

  it('splits a run longer than one read allows, and asks again after a short read', () => {
    const wide = new DenseDataset(new Float32Array(40 * 8192).fill(0.5), 8192); // 32 KiB rows: 32 per 1 MiB read
    const reader = new CountingReader(fileOf(wide, 0));
    const store = new RowFileStore({ reader, offset: 0, size: 40, dim: 8192, metric: 'l2' });
    expect(store.maxRowsPerRead).toBe(32);
    const ids = Uint32Array.from({ length: 40 }, (_, i) => i);
    store.queryEvaluator(new Float32Array(8192)).distances(ids, 40, new Float64Array(40));
    expect(reader.reads.map(([, n]) => n / (8192 * 4))).toEqual([32, 8]);

    const short = new CountingReader(fileOf(rows, 8), 7);
    const chunky = new RowFileStore({ reader: short, offset: 8, size: 500, dim: DIM, metric: 'l2' });
    expect(chunky.readRows(3, 2).subarray(0, 2 * DIM)).toEqual(rows.data.subarray(3 * DIM, 5 * DIM));
    expect(short.reads).toHaveLength(Math.ceil((2 * DIM * 4) / 7));
  });

  it('with bridgeBytes, reads through small gaps between wanted rows', () => {
    const reader = new CountingReader(fileOf(rows, 0));
    // Gaps of up to 5 rows are read through.
    const store = new RowFileStore({ reader, offset: 0, size: 500, dim: DIM, metric: 'ip', bridgeBytes: 5 * DIM * 4 + 3 });
    const ref = new PlainDenseStore(rows, 'ip', { simd: false });
    const ids = Uint32Array.from([20, 0, 3, 9, 14, 400, 9]);
    const got = new Float64Array(ids.length);
    const want = new Float64Array(ids.length);
    store.queryEvaluator(query).distances(ids, ids.length, got);
    ref.queryEvaluator(query).distances(ids, ids.length, want);
    expect(got).toEqual(want);
    // 0, 3, 9, 14 (gaps of 2, 5, 4 rows) | 20 (a gap of 5 after 14: bridged too) ... 400 apart.
    expect(reader.reads.map(([at, n]) => [at / (DIM * 4), n / (DIM * 4)])).toEqual([
      [0, 21],
      [400, 1],
    ]);
    expect(() => new RowFileStore({ reader, offset: 0, size: 1, dim: 1, metric: 'l2', bridgeBytes: -1 })).toThrow(/bridgeBytes/);
  });

  it('fails clearly: ids out of range, a file that ends early, reads after close', async () => {
    const reader = new CountingReader(fileOf(rows, 0));
    const store = new RowFileStore({ reader, offset: 0, size: 500, dim: DIM, metric: 'l2' });
    const ev = store.queryEvaluator(query);
    for (const bad of [
      () => ev.distance(500),
      () => ev.distances(Uint32Array.from([3, 500]), 2, new Float64Array(2)),
      () => store.itemEvaluator(-1),
    ]) {
      expect(await failure(bad)).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/out of range \[0, 500\)/) });
    }
    // Refused before reading: only row 3 (visited before 500) was read.
    expect(reader.reads).toEqual([[3 * DIM * 4, DIM * 4]]);
    const cut = new RowFileStore({
      reader: new CountingReader(fileOf(rows, 0).subarray(0, 100 * DIM * 4)),
      offset: 0,
      size: 500,
      dim: DIM,
      metric: 'l2',
    });
    expect(cut.queryEvaluator(query).distance(99)).toBeGreaterThan(0);
    expect(await failure(() => cut.queryEvaluator(query).distance(100))).toMatchObject({
      code: 'TRUNCATED_FILE',
      message: expect.stringContaining('test file: the file ended inside its re-ranking vectors'),
    });
    store.close();
    store.close();
    expect(reader.closes).toBe(1);
    expect(store.closed).toBe(true);
    expect(await failure(() => ev.distance(1))).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/closed/) });
    expect(await failure(() => new RowFileStore({ reader, offset: -1, size: 1, dim: 1, metric: 'l2' }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});

/** Files in a Map; a file open for synchronous reads refuses removal, as an OPFS access handle does. */
class LockingFiles implements FileStore {
  readonly backend = 'memory';
  readonly files = new Map<string, Uint8Array>();
  readonly openCount = new Map<string, number>();
  reads = 0;

  async create(name: string): Promise<FileWriter> {
    const chunks: Uint8Array[] = [];
    return {
      write: async (chunk) => {
        chunks.push(chunk.slice());
      },
      close: async () => {
        const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
        let at = 0;
        for (const c of chunks) {
          out.set(c, at);
          at += c.length;
        }
        this.files.set(name, out);
      },
      abort: async () => {},
    };
  }
  async open(name: string): Promise<ByteSource | null> {
    const bytes = this.files.get(name);
    return bytes ? { size: bytes.length, read: async (s, e) => bytes.slice(s, e) } : null;
  }
  async openSync(name: string): Promise<SyncFile | null> {
    const bytes = this.files.get(name);
    if (!bytes) return null;
    this.openCount.set(name, (this.openCount.get(name) ?? 0) + 1);
    let closed = false;
    return {
      size: bytes.length,
      read: (into, position) => {
        this.reads++;
        const n = Math.max(0, Math.min(into.length, bytes.length - position));
        into.set(bytes.subarray(position, position + n));
        return n;
      },
      close: () => {
        if (closed) return;
        closed = true;
        this.openCount.set(name, this.openCount.get(name)! - 1);
      },
    };
  }
  async remove(name: string): Promise<void> {
    if ((this.openCount.get(name) ?? 0) > 0) throw new DOMException('file is locked', 'NoModificationAllowedError');
    this.files.delete(name);
  }
  async list(): Promise<string[]> {
    return [...this.files.keys()];
  }
  held(): number {
    return [...this.openCount.values()].reduce((a, b) => a + b, 0);
  }
}

const hooks: ShelfHooks = { estimate: async () => null, lock: (_name, _mode, fn) => fn(), chunkBytes: 4096 };

describe('saved indexes with re-ranking vectors left in the file (IndexShelf, rerank disk)', () => {
  const base = data(400);
  const queries = data(15);
  const plain = HnswIndex.build(base, { metric: 'l2', m: 8, efConstruction: 40, seed: 3 });
  const sq8 = plain.quantize(new ScalarQuantizer('sq8'));
  const dataFiles = (files: LockingFiles) => [...files.files.keys()].filter((f) => f.endsWith('.wann')).sort();

  it('searches as the in-memory open does, holds no vectors, and survives a save and a delete until closed', async () => {
    const files = new LockingFiles();
    const shelf = new IndexShelf(files, hooks, 'ns');
    await shelf.save(sq8, 'sq');
    const mem = (await shelf.open('sq')) as HnswIndex;
    const disk = (await shelf.open('sq', 'disk')) as HnswIndex;
    expect(disk.rerankStore).toBeInstanceOf(RowFileStore);
    expect(disk.memory.rerankBytes).toBe(0);
    expect(mem.memory.rerankBytes).toBe(400 * DIM * 4);
    expect(files.held()).toBe(1);
    const readsBefore = files.reads;
    for (const rerank of [10, 40]) {
      const a = await mem.searchBatch(queries, 5, { ef: 60, rerank });
      const b = await disk.searchBatch(queries, 5, { ef: 60, rerank });
      expect(b.ids).toEqual(a.ids);
      // The in-memory store scores with the SIMD kernels, the file's rows with the JS ones.
      for (let i = 0; i < a.scores.length; i++) expect(b.scores[i]).toBeCloseTo(a.scores[i]!, 5);
      expect(disk.search(queries.get(2), 5, { ef: 60, rerank }).ids).toEqual(a.ids.subarray(10, 15));
    }
    expect(files.reads).toBeGreaterThan(readsBefore);

    // Saving again while open: the new generation is current, the open one refuses removal
    // and stays (the open index keeps reading it); closing it removes it.
    // What is saved is the open index itself: its vectors are read back from the file.
    const first = dataFiles(files);
    await shelf.save(disk, 'sq');
    expect(dataFiles(files)).toHaveLength(2);
    expect(disk.search(queries.get(0), 5, { ef: 60, rerank: 20 }).ids).toEqual(mem.search(queries.get(0), 5, { ef: 60, rerank: 20 }).ids);
    const resaved = (await shelf.open('sq')) as HnswIndex;
    expect((resaved.rerankStore as PlainDenseStore).vectors).toEqual((mem.rerankStore as PlainDenseStore).vectors);
    expect((await resaved.searchBatch(queries, 5, { ef: 60, rerank: 30 })).ids).toEqual(
      (await mem.searchBatch(queries, 5, { ef: 60, rerank: 30 })).ids,
    );
    await closeIndex(disk);
    expect(files.held()).toBe(0);
    expect(dataFiles(files)).toHaveLength(1);
    expect(dataFiles(files)).not.toEqual(first);
    expect(await failure(async () => disk.search(queries.get(0), 5, { rerank: 20 }))).toMatchObject({ message: /closed/ });
    await closeIndex(disk); // twice: nothing more

    // Deleting while open: gone from the list at once, its file removed on close.
    const again = (await shelf.open('sq', 'disk')) as HnswIndex;
    expect(await shelf.delete('sq')).toBe(true);
    expect(await shelf.list()).toEqual([]);
    expect(dataFiles(files)).toHaveLength(1);
    expect(again.search(queries.get(1), 5, { rerank: 20 }).ids).toEqual(mem.search(queries.get(1), 5, { rerank: 20 }).ids);
    await closeIndex(again);
    expect(files.files.size).toBe(0);
  });

  it('opens indexes without plain re-ranking vectors whole and lets their file go at once', async () => {
    const files = new LockingFiles();
    const shelf = new IndexShelf(files, hooks, 'ns');
    await shelf.save(plain, 'plain');
    await shelf.save(plain.quantize(new ScalarQuantizer('sq8'), { keepPlain: false }), 'bare');
    for (const name of ['plain', 'bare']) {
      const index = (await shelf.open(name, 'disk')) as HnswIndex;
      expect(index.rerankStore).not.toBeInstanceOf(RowFileStore);
      expect(files.held()).toBe(0);
    }
    await shelf.save(plain.quantize(new ScalarQuantizer('sq8'), { rerankCodes: 'f16' }), 'f16');
    expect(await failure(shelf.open('f16', 'disk'))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: /rerank 'disk' reads plain f32 vectors from the file, and this index re-ranks with f16 codes/,
    });
    expect(files.held()).toBe(0);
  });

  it('still checks the whole file: a damaged byte among the re-ranking vectors fails, and releases the file', async () => {
    const files = new LockingFiles();
    const shelf = new IndexShelf(files, hooks, 'ns');
    await shelf.save(sq8, 'sq');
    const [name] = dataFiles(files);
    const bytes = files.files.get(name!)!;
    const entry = readContainerHeader(bytes).sections!.find((e) => e.name === 'rerank.vectors')!;
    bytes[entry.offset + 40 * DIM]! ^= 0x10;
    expect(await failure(shelf.open('sq', 'disk'))).toMatchObject({ code: 'CORRUPT_FILE', message: /checksum/ });
    expect(files.held()).toBe(0);
  });

  it('refuses where it cannot work: a backend without synchronous reads, a Node process, a bad option', async () => {
    const files = new LockingFiles();
    await new IndexShelf(files, hooks, 'ns').save(sq8, 'sq');
    const noSync = Object.assign(Object.create(files) as LockingFiles, { openSync: undefined });
    expect(await failure(new IndexShelf(noSync, hooks, 'ns').open('sq', 'disk'))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: /origin private file system: the memory backend cannot/,
    });
    expect(await failure(openIndex('sq', { rerank: 'disk' }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: /which this context lacks \(in Node, loadIndexFile\(path, \{ rerank: 'disk' \}\)/,
    });
    expect(await failure(openIndex('sq', { rerank: 'ssd' as 'disk' }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: /rerank must be/,
    });
  });
});
