import { fail } from '../../errors.js';
import type { BatchEvaluator, Metric, QueryEvaluator, Vector, VectorStore } from '../../types.js';
import { CpuBatchEvaluator } from '../cpu-batch.js';
import { dot, l2sq } from '../kernels.js';
import { checkDenseQuery } from './store.js';

/** Longest single read when adjacent rows are coalesced. */
const MAX_READ_BYTES = 1 << 20;

/**
 * Synchronous positioned reads of one file: what a {@link RowFileStore} needs of the platform
 * (Node's fs.readSync, an OPFS FileSystemSyncAccessHandle in a dedicated worker).
 */
export interface RowReader {
  /**
   * Reads bytes at `position` into `into`, up to its length; returns how many were read (0
   * at the end of the file). May read fewer than asked: the store asks again for the rest.
   */
  read(into: Uint8Array, position: number): number;
  /** Releases the file (the store calls it once, from its own close()). */
  close(): void;
  /** Names the file in error messages. */
  readonly label: string;
}

/** Options of the {@link RowFileStore} constructor. */
export interface RowFileStoreOptions {
  /** The file's reader: the store owns it from now on (its close() closes it). */
  reader: RowReader;
  /** Byte offset of the row-major float32 vectors in the file. */
  offset: number;
  /** Rows in the file. */
  size: number;
  /** Floats per row. */
  dim: number;
  /** 'l2' or 'ip': what the store's distances compute. */
  metric: Metric;
  /**
   * Largest gap between wanted rows that one read spans (the rows between are read and
   * dropped) instead of splitting it into two reads. Worth it where each read has a high fixed
   * cost (an OPFS read costs as much as tens of KiB more bytes); default 0: only adjacent rows
   * share a read.
   */
  bridgeBytes?: number;
}

/** Closes the reader of a store that was dropped without close(). */
const orphans = new FinalizationRegistry<RowReader>((reader) => {
  try {
    reader.close();
  } catch {
    // Already closed: nothing to do.
  }
});

/**
 * Plain dense vectors left in a file: nothing is resident but a small read buffer. Each
 * evaluation reads the rows it needs through a synchronous {@link RowReader} (adjacent rows in
 * one read), so it suits the few hundred rows a re-ranking step scores per query, not a graph
 * search. What `rerank: 'disk'` gives an index (Node's loadIndexFile, the browser's openIndex).
 * Worker threads cannot share it: searches over it run on the calling thread.
 */
export class RowFileStore implements VectorStore {
  /** Scored as plain dense vectors (also what a re-saved file records). */
  readonly kind = 'dense';
  /** Scored by the JS kernels (also what a re-saved file records). */
  readonly kernels = 'js';
  /** Rows in the file. */
  readonly size: number;
  /** Floats per row. */
  readonly dim: number;
  /** 'l2' or 'ip'. */
  readonly metric: Metric;
  /** Byte offset of the vectors in the file. */
  readonly offset: number;
  /** The reader the rows come through (for its label; reading is the store's job). */
  readonly reader: RowReader;
  /** Rows of a gap between wanted rows that one read spans (see RowFileStoreOptions.bridgeBytes). */
  readonly bridgeRows: number;
  private open = true;
  private bytes = new Uint8Array(0);
  private rows = new Float32Array(0);
  private order = new Uint32Array(0);

  constructor(options: RowFileStoreOptions) {
    const { reader, offset, size, dim } = options;
    if (!(Number.isSafeInteger(offset) && offset >= 0 && Number.isSafeInteger(size) && size >= 0 && Number.isSafeInteger(dim) && dim >= 1))
      fail('INVALID_ARGUMENT', `a row file needs whole offset >= 0, size >= 0 and dim >= 1, got ${offset}, ${size}, ${dim}`);
    this.reader = reader;
    this.offset = offset;
    this.size = size;
    this.dim = dim;
    this.metric = options.metric;
    const bridge = options.bridgeBytes ?? 0;
    if (!(Number.isSafeInteger(bridge) && bridge >= 0)) fail('INVALID_ARGUMENT', `bridgeBytes must be a whole number >= 0, got ${bridge}`);
    this.bridgeRows = Math.floor(bridge / (dim * 4));
    orphans.register(this, reader, this);
  }

  /** Resident bytes: none (the vectors stay in the file; see diskBytes). */
  get byteLength(): number {
    return 0;
  }
  /** Bytes of the vectors in the file. */
  get diskBytes(): number {
    return this.size * this.dim * 4;
  }
  /** True once close() released the file. */
  get closed(): boolean {
    return !this.open;
  }

  /** Closes the file; later evaluations fail. Safe to call twice. */
  close(): void {
    if (!this.open) return;
    orphans.unregister(this);
    this.open = false;
    this.reader.close();
  }

  /** Every vector, read into memory (e.g. to save the index again). */
  get vectors(): Float32Array {
    const out = new Float32Array(this.size * this.dim);
    this.readInto(new Uint8Array(out.buffer), this.offset);
    return out;
  }

  /** Checks a query: dimension and finite values. */
  checkQuery(query: Vector): void {
    checkDenseQuery(query, this.dim);
  }

  /** Exact distances of `query` to rows read from the file. */
  queryEvaluator(query: Vector): QueryEvaluator {
    return new RowFileEvaluator(this, query as Float32Array);
  }

  /** Exact distances of row `id` (read once) to other rows. */
  itemEvaluator(id: number): QueryEvaluator {
    return new RowFileEvaluator(this, this.readRows(id, 1).slice(0, this.dim));
  }

  /** The distance between rows `a` and `b` (two reads). */
  itemDistance(a: number, b: number): number {
    const va = this.readRows(a, 1).slice(0, this.dim);
    const vb = this.readRows(b, 1);
    return this.metric === 'l2' ? l2sq(va, 0, vb, 0, this.dim) : -dot(va, 0, vb, 0, this.dim);
  }

  /** A CPU batch evaluator over the file. */
  batchEvaluator(): BatchEvaluator {
    return new CpuBatchEvaluator(this);
  }

  /** Most rows one read may cover. */
  get maxRowsPerRead(): number {
    return Math.max(1, Math.floor(MAX_READ_BYTES / (this.dim * 4)));
  }

  /**
   * Rows first .. first+count-1 in the store's read buffer (valid until the next read).
   * Rows are at buffer offset (row - first) * dim.
   */
  readRows(first: number, count: number): Float32Array {
    if (!(Number.isInteger(first) && first >= 0 && Number.isInteger(count) && count >= 1 && first + count <= this.size)) {
      fail('INVALID_ARGUMENT', `item id ${first + count - 1} is out of range [0, ${this.size})`);
    }
    const floats = count * this.dim;
    if (this.rows.length < floats) {
      this.rows = new Float32Array(Math.max(floats, this.dim * 16));
      this.bytes = new Uint8Array(this.rows.buffer);
    }
    this.readInto(this.bytes.subarray(0, floats * 4), this.offset + first * this.dim * 4);
    return this.rows;
  }

  /** A scratch array for sorting ids (shared: evaluations are synchronous). */
  orderScratch(count: number): Uint32Array {
    if (this.order.length < count) this.order = new Uint32Array(Math.max(count, 64));
    return this.order;
  }

  private readInto(buf: Uint8Array, position: number): void {
    const label = this.reader.label;
    if (!this.open) fail('INVALID_ARGUMENT', `${label}: the re-ranking vectors read from this file were closed (closeIndex)`);
    let done = 0;
    while (done < buf.length) {
      const n = this.reader.read(buf.subarray(done), position + done);
      if (!(n > 0)) fail('TRUNCATED_FILE', `${label}: the file ended inside its re-ranking vectors (changed after opening?)`);
      done += n;
    }
  }
}

/** Exact distances of one query to rows read from the file, in file order. */
class RowFileEvaluator implements QueryEvaluator {
  private readonly isL2: boolean;
  constructor(
    private readonly store: RowFileStore,
    private readonly q: Float32Array,
  ) {
    this.isL2 = store.metric === 'l2';
  }

  distance(id: number): number {
    return this.score(this.store.readRows(id, 1), 0);
  }

  distances(ids: Uint32Array, count: number, out: Float64Array): void {
    const store = this.store;
    const dim = store.dim;
    const maxRows = store.maxRowsPerRead;
    const reach = store.bridgeRows + 1;
    // Visit the ids in increasing order so that each read moves forwards in the file and
    // neighbouring rows (or repeated ids, or rows a small gap apart) share one read.
    const order = store.orderScratch(count);
    for (let i = 0; i < count; i++) order[i] = i;
    order.subarray(0, count).sort((a, b) => ids[a]! - ids[b]!);
    let i = 0;
    while (i < count) {
      const first = ids[order[i]!]!;
      let last = first;
      let j = i + 1;
      for (; j < count; j++) {
        const id = ids[order[j]!]!;
        if (id > last + reach || id - first + 1 > maxRows) break;
        last = id;
      }
      const rows = store.readRows(first, last - first + 1);
      for (let t = i; t < j; t++) {
        const slot = order[t]!;
        out[slot] = this.score(rows, (ids[slot]! - first) * dim);
      }
      i = j;
    }
  }

  private score(rows: Float32Array, at: number): number {
    const dim = this.store.dim;
    return this.isL2 ? l2sq(this.q, 0, rows, at, dim) : -dot(this.q, 0, rows, at, dim);
  }
}
