export { WebannoloError, type ErrorCode } from './errors.js';
export type {
  Metric, Dataset, Vector, SparseVector, QueryEvaluator, BatchEvaluator, VectorStore,
  SearchResult, BatchSearchResult, GpuMode,
} from './types.js';
export { DenseDataset } from './data/dense.js';
export { SparseDataset } from './data/sparse.js';
export { PlainQuantizer, PlainDenseStore, PlainSparseStore } from './quant/plain.js';
export { CpuBatchEvaluator } from './quant/cpu-batch.js';
export { FlatIndex } from './indexes/flat.js';
export { HnswIndex, type HnswIndexOptions, type HnswAsyncBuildOptions, type HnswSearchParams, type HnswBatchParams } from './indexes/hnsw/hnsw-index.js';
import { WorkerPool } from './parallel/pool.js';
export { WorkerPool };
export { trainPqParallel } from './quant/pq/parallel-kmeans.js';
export { HnswGraph } from './indexes/hnsw/graph/graph.js';
export type { SearchFilter, AllowedSet } from './indexes/filter.js';
export type { ItemKey } from './indexes/items/item-keys.js';
export type { ItemOrder } from './indexes/items/item-order.js';
export type { Layout } from './indexes/hnsw/graph/locality-layout.js';
export type { AddOptions, AddAsyncOptions, LabelRow, CompactOptions } from './indexes/hnsw/living/living-index.js';
export type { HnswBuildParams } from './indexes/hnsw/build/build-graph.js';
export { serializeIndex, deserializeIndex, describeIndexFile, type AnyIndex } from './indexes/index-codec.js';
export { registerStoreCodec, type StoreCodec } from './io/store-codecs.js';
export { readFvecs, readIvecs, readBvecs, writeFvecs, writeIvecs, writeBvecs } from './io/vecs.js';
export { readNpy, writeNpy } from './io/npy.js';
export { readCsr, writeCsr } from './io/csr.js';
export { readSparseBin, writeSparseBin } from './io/sparse-bin.js';
export { parseDataset, formatFromPath, type DataFormat } from './io/formats.js';
export { parseIdxImages, parseIdxLabels } from './io/idx.js';
export { recallAtK, type GroundTruth } from './eval/recall.js';
export { ProductQuantizer, PqStore, PqEvaluator, buildLookupTable, PQ_KSUB, type PqOptions } from './quant/pq/pq.js';
export { kmeans, type KMeansOptions } from './quant/pq/kmeans.js';
export { ScalarQuantizer, type ScalarQuantizerOptions } from './quant/scalar/quantizer.js';
export { ScalarStore } from './quant/scalar/store.js';
export { ScalarCodec, SCALAR_ENCODINGS, type ScalarEncoding } from './quant/scalar/scalar-encoding.js';
export type { DenseQuantizer } from './quant/quantizer.js';
export { requestGpu, retireGpu, type GpuContext, type RequestGpuOptions } from './gpu/device.js';
export { registerShaderSources } from './gpu/shaders.js';
export { gpuEvaluatorFor, AUTO_MIN_BATCH, BACKENDS, type Backend, type BackendOptions } from './gpu/select.js';
export { gpuExactSearch, GPU_MAX_K } from './gpu/exact.js';
export { GpuDenseEvaluator } from './quant/dense/gpu-pairs.js';
export { GpuPqEvaluator } from './quant/pq/gpu-pairs.js';
export { GpuSparseEvaluator } from './quant/sparse/gpu-pairs.js';
export { GpuScalarEvaluator } from './quant/scalar/gpu-pairs.js';
export { gpuAssigner, trainPqOnGpu } from './quant/pq/gpu-kmeans.js';

/** Ends the worker threads of parallel build and search (they restart on the next parallel task). */
export function closeWorkers(): Promise<void> {
  return WorkerPool.closeShared();
}
