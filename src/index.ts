export { WebannoloError, type ErrorCode } from './errors.js';
export type {
  Metric, Dataset, Vector, SparseVector, QueryEvaluator, BatchEvaluator, VectorStore,
  SearchResult, BatchSearchResult, GpuMode,
} from './types.js';
export { DenseDataset } from './data/dense.js';
export { SparseDataset } from './data/sparse.js';
export { PlainQuantizer, PlainDenseStore, PlainSparseStore } from './quant/plain.js';
export { CpuBatchEvaluator } from './quant/cpu-batch.js';
export { FlatIndex } from './index/flat.js';
export { HnswIndex, type HnswIndexOptions, type HnswAsyncBuildOptions, type HnswSearchParams, type HnswBatchParams } from './index/hnsw/hnsw-index.js';
import { WorkerPool } from './parallel/pool.js';
export { WorkerPool };
export { trainPqParallel } from './quant/parallel-kmeans.js';
export { HnswGraph } from './index/hnsw/graph.js';
export type { SearchFilter, AllowedSet } from './index/filter.js';
export type { ItemKey } from './index/item-keys.js';
export type { ItemOrder } from './index/item-order.js';
export type { Layout } from './index/hnsw/locality-layout.js';
export type { AddOptions, AddAsyncOptions, LabelRow, CompactOptions } from './index/hnsw/living-index.js';
export type { HnswBuildParams } from './index/hnsw/build.js';
export { serializeIndex, deserializeIndex, describeIndexFile, type AnyIndex } from './io/index-codec.js';
export { registerStoreCodec, type StoreCodec } from './io/store-codecs.js';
export { readFvecs, readIvecs, readBvecs, writeFvecs, writeIvecs, writeBvecs } from './io/vecs.js';
export { readNpy, writeNpy } from './io/npy.js';
export { readCsr, writeCsr } from './io/csr.js';
export { readSparseBin, writeSparseBin } from './io/sparse-bin.js';
export { parseDataset, formatFromPath, type DataFormat } from './io/formats.js';
export { parseIdxImages, parseIdxLabels } from './io/idx.js';
export { recallAtK, type GroundTruth } from './eval/recall.js';
export { ProductQuantizer, PqStore, PqEvaluator, buildLookupTable, PQ_KSUB, type PqOptions } from './quant/pq.js';
export { kmeans, type KMeansOptions } from './quant/kmeans.js';
export { ScalarQuantizer, type ScalarQuantizerOptions } from './quant/scalar-quantizer.js';
export { ScalarStore } from './quant/scalar-store.js';
export { ScalarCodec, SCALAR_ENCODINGS, type ScalarEncoding } from './quant/scalar-codec.js';
export type { DenseQuantizer } from './quant/quantizer.js';
export { requestGpu, retireGpu, type GpuContext, type RequestGpuOptions } from './gpu/device.js';
export { registerShaderSources } from './gpu/shaders.js';
export { gpuEvaluatorFor, AUTO_MIN_BATCH, BACKENDS, type Backend, type BackendOptions } from './gpu/select.js';
export { gpuExactSearch, GPU_MAX_K } from './gpu/exact.js';
export { GpuDenseEvaluator } from './gpu/gpu-dense.js';
export { GpuPqEvaluator } from './gpu/gpu-pq.js';
export { GpuSparseEvaluator } from './gpu/gpu-sparse.js';
export { GpuScalarEvaluator } from './gpu/gpu-scalar.js';
export { gpuAssigner, trainPqOnGpu } from './gpu/kmeans.js';

/** Ends the worker threads of parallel build and search (they restart on the next parallel task). */
export function closeWorkers(): Promise<void> {
  return WorkerPool.closeShared();
}
