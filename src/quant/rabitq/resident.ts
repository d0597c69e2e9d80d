import type { GpuContext } from '../../gpu/device.js';
import { queryLimit, type ResidentStoreKernel } from '../../gpu/resident/store-kernels.js';
import { QUERY_BITS } from './encoding.js';
import { gpuQueryWords, planeWords, rabitqData, uploadQueryRecords } from './gpu-pairs.js';
import type { RabitqStore } from './store.js';

/** f32 holds every integer below 2^24: the resident kernel's team sums S exactly up to there. */
const EXACT_F32_INTEGERS = 2 ** 24;

/**
 * The largest S = sum_i x_u_i * level_i a store can produce: every code component at 2^bits - 1
 * and every query level at 2^QUERY_BITS - 1.
 */
export function maxRabitqProduct(store: RabitqStore): number {
  const { bits, paddedDim } = store.encoding;
  return (2 ** bits - 1) * (2 ** QUERY_BITS - 1) * paddedDim;
}

/**
 * RaBitQ codes in the resident kernel (resident_rabitq.wgsl): the estimate of the CPU, from
 * popcounts of code planes AND query planes. Queries are rotated and quantized on the CPU and
 * go up as their planes and constants. The beam kernel adds a team's partial sums in f32, so a
 * store whose S could reach 2^24 (8 bits beyond 4096 rotated components) gets null: the hybrid
 * path's pair kernel sums in integers and takes it.
 */
export function rabitqKernel(ctx: GpuContext, store: RabitqStore): ResidentStoreKernel | null {
  if (maxRabitqProduct(store) >= EXACT_F32_INTEGERS) return null;
  const data = rabitqData(ctx, store);
  const { encoding } = store;
  const positions = planeWords(encoding);
  const queryWords = gpuQueryWords(encoding);
  return {
    shader: 'resident_rabitq',
    chunkElement: 'u32',
    chunks: data.chunks,
    constants: {
      POSITIONS: positions,
      BITS: encoding.bits,
      WORDS: data.rowWords,
      QUERY_WORDS: queryWords,
      ROWS_PER_CHUNK: data.rowsPerChunk,
      SIGN: encoding.sign,
    },
    itemsPerDistance: positions,
    maxQueriesPerDispatch: queryLimit(ctx, queryWords * 4),
    prepare(_encoder, queries, start, count) {
      const buf = uploadQueryRecords(ctx, encoding, queries, start, count);
      return { bindings: [buf], release: () => ctx.resources.release(buf) };
    },
  };
}
