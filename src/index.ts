export {
  BATCHER_DEFAULTS,
  type BatchBackendParams,
  type BatchInfo,
  type BatchTarget,
  type QueryBatcherOptions,
  type QueryBatcherStats,
} from './batching/batcher-options.js';
export { type BatchedSearchOptions, QueryBatcher } from './batching/query-batcher.js';
export { DenseDataset } from './data/dense.js';
export { SparseDataset } from './data/sparse.js';
export { type ErrorCode, WebannoloError } from './errors.js';
export { FlatIndex } from './indexes/flat.js';
export {
  type HnswAsyncBuildOptions,
  type HnswBatchParams,
  HnswIndex,
  type HnswIndexOptions,
  type HnswSearchParams,
  type QuantizeOptions,
  RERANK_CODES,
  type RerankCodes,
} from './indexes/hnsw/hnsw-index.js';
export { CpuBatchEvaluator } from './quant/cpu-batch.js';
export { PlainDenseStore, PlainQuantizer, PlainSparseStore } from './quant/plain.js';
export type {
  BatchEvaluator,
  BatchSearchResult,
  Dataset,
  GpuMode,
  Metric,
  QueryEvaluator,
  SearchResult,
  SparseVector,
  Vector,
  VectorStore,
} from './types.js';

import { WorkerPool } from './parallel/pool.js';

export { type GroundTruth, recallAtK } from './eval/recall.js';
export { type GpuContext, type RequestGpuOptions, requestGpu, retireGpu } from './gpu/device.js';
export { GPU_MAX_K } from './gpu/exact.js';
export { AUTO_MIN_BATCH, BACKENDS, type Backend, type BackendOptions } from './gpu/select.js';
export { registerShaderSources } from './gpu/shaders.js';
export type { AllowedSet, SearchFilter } from './indexes/filter.js';
export type { HnswBuildParams } from './indexes/hnsw/build/build-graph.js';
export { HnswGraph } from './indexes/hnsw/graph/graph.js';
export type { Layout } from './indexes/hnsw/graph/locality-layout.js';
export type { AddAsyncOptions, AddOptions, CompactOptions, LabelRow } from './indexes/hnsw/living/living-index.js';
export { type AnyIndex, describeIndexFile, deserializeIndex, type SerializeOptions, serializeIndex } from './indexes/index-codec.js';
export type { ItemKey } from './indexes/items/item-keys.js';
export type { ItemOrder } from './indexes/items/item-order.js';
export { readCsr, writeCsr } from './io/csr.js';
export { type DataFormat, formatFromPath, parseDataset } from './io/formats.js';
export { parseIdxImages, parseIdxLabels } from './io/idx.js';
export { readNpy, writeNpy } from './io/npy.js';
export { readSparseBin, writeSparseBin } from './io/sparse-bin.js';
export { readBvecs, readFvecs, readIvecs, writeBvecs, writeFvecs, writeIvecs } from './io/vecs.js';
export { GpuDenseEvaluator } from './quant/dense/gpu-pairs.js';
export { RowFileStore, type RowFileStoreOptions, type RowReader } from './quant/dense/row-file-store.js';
export { PQ_KSUB } from './quant/pq/codebook.js';
export { buildLookupTable, PqEvaluator } from './quant/pq/evaluators.js';
export { gpuAssigner, trainPqOnGpu } from './quant/pq/gpu-kmeans.js';
export { GpuPqEvaluator } from './quant/pq/gpu-pairs.js';
export { type KMeansOptions, kmeans } from './quant/pq/kmeans.js';
export { trainPqParallel } from './quant/pq/parallel-kmeans.js';
export { type PqOptions, ProductQuantizer } from './quant/pq/quantizer.js';
export { PqStore } from './quant/pq/store.js';
export type { DenseQuantizer } from './quant/quantizer.js';
export { type RabitqOptions, RabitqQuantizer } from './quant/rabitq/quantizer.js';
export { RabitqStore } from './quant/rabitq/store.js';
export { gpuEvaluatorFor, gpuExactSearch, registerStoreCodec, type StoreCodec } from './quant/registry.js';
export { GpuScalarEvaluator } from './quant/scalar/gpu-pairs.js';
export { ScalarQuantizer, type ScalarQuantizerOptions } from './quant/scalar/quantizer.js';
export { SCALAR_ENCODINGS, ScalarCodec, type ScalarEncoding } from './quant/scalar/scalar-encoding.js';
export { ScalarStore } from './quant/scalar/store.js';
export { GpuSparseEvaluator } from './quant/sparse/gpu-pairs.js';
export {
  deleteIndex,
  listIndexes,
  type OpenIndexOptions,
  openIndex,
  type SavedIndexInfo,
  type StorageBackend,
  StorageFullError,
  type StorageOptions,
  saveIndex,
  storageBackend,
} from './storage/browser-storage.js';
export { type ByteSource, blobSource, type ReadIndexOptions, readIndexBlob, readIndexFrom } from './storage/read-index.js';
export { closeIndex } from './storage/rerank-on-disk.js';
export { WorkerPool };

/** Ends the worker threads of parallel build and search (they restart on the next parallel task). */
export function closeWorkers(): Promise<void> {
  return WorkerPool.closeShared();
}
