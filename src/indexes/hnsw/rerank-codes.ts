import { DenseDataset } from '../../data/dense.js';
import { fail } from '../../errors.js';
import type { DenseQuantizer } from '../../quant/quantizer.js';
import { plainVectorsOf } from '../../quant/registry.js';
import { ScalarQuantizer } from '../../quant/scalar/quantizer.js';
import type { Metric, VectorStore } from '../../types.js';
import { checkOptionNames } from '../option-names.js';

/**
 * What re-ranking scores the candidates with: 'f32' the plain vectors (4 bytes per
 * component), 'f16' IEEE halves of them (2 bytes), 'sq8' one byte per component over each
 * dimension's range (see ScalarQuantizer).
 */
export type RerankCodes = 'f32' | 'f16' | 'sq8';

/** The encodings re-ranking can score with. */
export const RERANK_CODES: readonly RerankCodes[] = ['f32', 'f16', 'sq8'];

/** Options of HnswIndex.quantize. */
export interface QuantizeOptions {
  /**
   * Keep a re-ranking store beside the codes searched (default true), for searches with
   * `rerank`; false keeps none (the smallest index, no re-ranking).
   */
  keepPlain?: boolean;
  /**
   * What the re-ranking store holds (default 'f32': the plain vectors): 'f16' or 'sq8' keep
   * codes of them instead, half or a quarter of the bytes, at a small cost in re-ranked
   * precision (f16 is as good as f32 on typical embeddings; sq8 rounds each component to one
   * of 256 steps). Only with keepPlain (not false).
   */
  rerankCodes?: RerankCodes;
}

const QUANTIZE_OPTION_NAMES: ReadonlySet<string> = new Set(['keepPlain', 'rerankCodes']);

/**
 * HnswIndex.quantize's stores: the search store (`quantizer`'s codes) and the re-ranking
 * store the options ask for, both encoded from `plain` (the index's plain vectors, in its
 * slot order) so their rows line up with the graph's slots.
 */
export function quantizedStores(
  plain: VectorStore,
  quantizer: DenseQuantizer,
  metric: Metric,
  options: QuantizeOptions,
): { store: VectorStore; rerankStore: VectorStore | null } {
  checkOptionNames('quantize', options, QUANTIZE_OPTION_NAMES);
  const { keepPlain, rerankCodes } = options;
  if (keepPlain !== undefined && typeof keepPlain !== 'boolean')
    fail('INVALID_ARGUMENT', `keepPlain must be true or false, got ${String(keepPlain)}`);
  if (rerankCodes !== undefined && !RERANK_CODES.includes(rerankCodes))
    fail('INVALID_ARGUMENT', `rerankCodes must be ${RERANK_CODES.map((c) => `'${c}'`).join(', ')}, got ${String(rerankCodes)}`);
  if (keepPlain === false && rerankCodes !== undefined)
    fail('INVALID_ARGUMENT', `rerankCodes '${rerankCodes}' asks for a re-ranking store and keepPlain false for none: give one of them`);
  const data = plainVectorsOf(plain);
  if (!(data instanceof DenseDataset))
    fail(
      'INVALID_ARGUMENT',
      plain.kind === 'f16' || plain.kind === 'sq8'
        ? `${quantizer.name} quantization needs the plain vectors: this index keeps ${plain.kind} codes of them only`
        : `${quantizer.name} quantization needs an index over plain dense vectors`,
    );
  const store = quantizer.encode(data, metric);
  if (keepPlain === false) return { store, rerankStore: null };
  const codes = rerankCodes ?? 'f32';
  return { store, rerankStore: codes === 'f32' ? plain : new ScalarQuantizer(codes).encode(data, metric) };
}
