import type { GpuContext } from '../gpu/device.js';
import type { ExactScan } from '../gpu/exact.js';
import type { ResidentStoreKernel } from '../gpu/resident/store-kernels.js';
import type { Dtype, SectionArray } from '../io/container.js';
import type { BatchEvaluator, Dataset, Metric, VectorStore } from '../types.js';

/**
 * How each kind of store goes into and out of an index file. A new quantizer registers its
 * codec (registerStoreCodec, or as part of its StoreKind) and needs no change to the file
 * format or to the indexes.
 */
export interface StoreCodec {
  /** The store kind, as the index file's header names it. */
  readonly kind: string;
  /** The store's parameters (JSON) and typed-array sections, as the index file holds them. */
  encode(store: VectorStore): { params: Record<string, unknown>; sections: Record<string, SectionArray> };
  /** The store again, from what encode wrote. */
  decode(params: Record<string, unknown>, section: (name: string) => SectionArray, metric: Metric): VectorStore;
  /**
   * Optional, for loaders that read sections piecewise: where to read section `name`
   * (`byteLength` bytes) so that decode() can adopt it instead of copying (e.g. straight into
   * the SIMD kernels' memory), or null for plain memory.
   */
  sectionBuffer?(params: Record<string, unknown>, name: string, byteLength: number): Uint8Array | null;
  /**
   * Optional: what the header parameters imply, checked (bounds, consistency) without any
   * data, so a loader refuses a malformed file before it allocates: the item count, the
   * dimension and each section (name without its 'store.' prefix, element type, and its
   * length where the parameters fix it). Throws CORRUPT_FILE naming the field.
   */
  layout?(params: Record<string, unknown>): StoreLayout;
}

/** A store's sections and sizes as its header describes them (StoreCodec.layout). */
export interface StoreLayout {
  readonly size: number;
  readonly dim: number;
  readonly sections: Readonly<Record<string, { readonly dtype: Dtype; readonly length?: number }>>;
}

/** A store as worker threads receive it: its data on shared memory, no copy per thread. */
export interface SharedStore {
  /** The kind whose `attach` turns it back into a store. */
  readonly kind: string;
}

/**
 * Everything the library knows about one kind of store, in one place: its file codec, how
 * worker threads share it, and its GPU kernels. The store class itself is the CPU side (its
 * evaluators). Found by the `kind` string a store reports (src/quant/registry.ts); every part
 * but the codec is optional, and a kind without one simply stays off that path (one thread,
 * the CPU).
 */
export interface StoreKind<S extends VectorStore = VectorStore, Shared extends SharedStore = SharedStore> {
  /** The `kind` its stores report and index files record. */
  readonly kind: string;
  readonly codec: StoreCodec;
  /**
   * Whether `store` is this kind's own class. Another store may report the same kind string
   * (a file-backed dense store, a user's store, both written with this kind's codec) without
   * the memory layout the worker and GPU parts below rely on.
   */
  owns(store: VectorStore): store is S;
  /** Sharing with worker threads: share() moves the data to shared memory, attach() wraps it in another thread. */
  readonly workers?: {
    share(store: S): Shared;
    attach(shared: Shared): S;
  };
  /** The exact vectors the store holds, for a quantizer to encode (plain kinds only). */
  plainVectors?(store: S): Dataset;
  /** The GPU BatchEvaluator of the hybrid path (pair distances). */
  gpuPairs?(ctx: GpuContext, store: S): BatchEvaluator;
  /** The resident kernel's snippet, or null when this store does not fit it. */
  residentKernel?(ctx: GpuContext, store: S): ResidentStoreKernel | null;
  /** The distance-matrix pass of the exact GPU search (FlatIndex). */
  exactScan?(ctx: GpuContext, store: S): ExactScan;
  /**
   * A small store of this kind for the registry's conformance test (test/store-kinds.test.ts:
   * codec and share/attach round trips), so a new kind is checked without a test of its own.
   */
  example?(metric: Metric): S;
}
