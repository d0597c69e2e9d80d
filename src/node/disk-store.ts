import { closeSync, readSync } from 'node:fs';
import { fail } from '../errors.js';
import { CpuBatchEvaluator } from '../quant/cpu-batch.js';
import { checkDenseQuery } from '../quant/dense/store.js';
import { dot, l2sq } from '../quant/kernels.js';
import type { BatchEvaluator, Metric, QueryEvaluator, Vector, VectorStore } from '../types.js';

/** Longest single read when adjacent rows are coalesced. */
const MAX_READ_BYTES = 1 << 20;

export interface DiskDenseStoreOptions {
  /** An open file descriptor (the store owns it from now on: close() closes it). */
  fd: number;
  /** Byte offset of the row-major float32 vectors in the file. */
  offset: number;
  size: number;
  dim: number;
  metric: Metric;
  /** For error messages. */
  path?: string;
}

/** Closes the descriptor of a store that was dropped without close(). */
const orphans = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing to do.
  }
});

/**
 * Plain dense vectors left in a file: nothing is resident but a small read buffer. Each
 * evaluation reads the rows it needs with fs.readSync (adjacent rows in one read), so it suits
 * the few hundred rows a re-ranking step scores per query, not a graph search. Node only.
 */
export class DiskDenseStore implements VectorStore {
  readonly kind = 'dense';
  /** Scored by the JS kernels (also what a re-saved file records). */
  readonly kernels = 'js';
  readonly size: number;
  readonly dim: number;
  readonly metric: Metric;
  /** Byte offset of the vectors in the file. */
  readonly offset: number;
  /** The file the vectors are read from (for messages). */
  readonly path: string;
  private fd: number | null;
  private bytes = new Uint8Array(0);
  private rows = new Float32Array(0);
  private order = new Uint32Array(0);

  constructor(options: DiskDenseStoreOptions) {
    this.fd = options.fd;
    this.offset = options.offset;
    this.size = options.size;
    this.dim = options.dim;
    this.metric = options.metric;
    this.path = options.path ?? 'index file';
    orphans.register(this, options.fd, this);
  }

  /** Resident bytes: none (the vectors stay on disk; see diskBytes). */
  get byteLength(): number {
    return 0;
  }
  /** Bytes of the vectors on disk. */
  get diskBytes(): number {
    return this.size * this.dim * 4;
  }
  /** True once close() released the file. */
  get closed(): boolean {
    return this.fd === null;
  }

  /** Closes the file; later evaluations fail. Safe to call twice. */
  close(): void {
    if (this.fd === null) return;
    orphans.unregister(this);
    const fd = this.fd;
    this.fd = null;
    closeSync(fd);
  }

  /** Every vector, read into memory (e.g. to save the index again). */
  get vectors(): Float32Array {
    const out = new Float32Array(this.size * this.dim);
    this.readInto(new Uint8Array(out.buffer), this.offset);
    return out;
  }

  checkQuery(query: Vector): void {
    checkDenseQuery(query, this.dim);
  }

  queryEvaluator(query: Vector): QueryEvaluator {
    return new DiskDenseEvaluator(this, query as Float32Array);
  }

  itemEvaluator(id: number): QueryEvaluator {
    return new DiskDenseEvaluator(this, this.readRows(id, 1).slice(0, this.dim));
  }

  itemDistance(a: number, b: number): number {
    const va = this.readRows(a, 1).slice(0, this.dim);
    const vb = this.readRows(b, 1);
    return this.metric === 'l2' ? l2sq(va, 0, vb, 0, this.dim) : -dot(va, 0, vb, 0, this.dim);
  }

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
    if (!(Number.isInteger(first) && first >= 0 && count >= 1 && first + count <= this.size)) {
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
    const fd = this.fd;
    if (fd === null) fail('INVALID_ARGUMENT', `${this.path}: the re-ranking vectors on disk were closed`);
    let done = 0;
    while (done < buf.length) {
      const n = readSync(fd, buf, done, buf.length - done, position + done);
      if (n === 0) fail('TRUNCATED_FILE', `${this.path}: index file ended inside its re-ranking vectors (changed after loading?)`);
      done += n;
    }
  }
}

/** Exact distances of one query to rows read from disk, in file order. */
class DiskDenseEvaluator implements QueryEvaluator {
  private readonly isL2: boolean;
  constructor(
    private readonly store: DiskDenseStore,
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
    // Visit the ids in increasing order so that each read moves forwards in the file and
    // neighbouring rows (or repeated ids) share one read.
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
        if (id > last + 1 || id - first + 1 > maxRows) break;
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
