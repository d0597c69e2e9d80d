import type { RerankCodes } from '../indexes/hnsw/rerank-codes.js';
import type { FlagSpec, ParsedArgs } from './args.js';
import { UsageError } from './args.js';

// `build`'s flags that depend on each other: which apply to the index type and quantizer, and
// what re-ranking store the index keeps.

const PQ_FLAGS = ['pq-m', 'pq-train-sample', 'pq-iterations'];

/** `--rerank-codes`: what the kept re-ranking store holds. */
export const RERANK_CODES_FLAG: FlagSpec = {
  name: 'rerank-codes',
  type: 'enum',
  values: ['f32', 'f16', 'sq8'],
  help: 'hnsw with f16/sq8/pq/rabitq: what `search --rerank` re-scores with: the plain f32 vectors (default), or f16 (2 B/component) or sq8 (1 B/component) codes of them; implies --keep-plain',
};

/** Flags that do not fit the index type or quantizer are mistakes, not silently ignored. */
export function checkFlags(args: ParsedArgs, type: string, quantizer: string): void {
  if (type === 'flat') {
    for (const f of quantizer === 'pq'
      ? ['m', 'ef-construction', 'keys', 'labels', 'layout']
      : ['m', 'ef-construction', 'seed', 'keys', 'labels', 'layout']) {
      if (args.given.has(f)) throw new UsageError(`build: --${f} only applies to --index-type hnsw`);
    }
    if (args.values.get('keep-plain') === true && args.given.has('keep-plain')) {
      throw new UsageError(
        'build: --keep-plain only applies to --index-type hnsw (a flat index scans its codes and keeps no plain vectors)',
      );
    }
    if (args.given.has('rerank-codes'))
      throw new UsageError('build: --rerank-codes only applies to --index-type hnsw (a flat index scans its codes and does not re-rank)');
  }
  if (quantizer === 'plain' && args.given.has('keep-plain'))
    throw new UsageError('build: --keep-plain only applies with --quantizer f16, sq8, pq or rabitq');
  if (quantizer === 'plain' && args.given.has('rerank-codes'))
    throw new UsageError('build: --rerank-codes only applies with --quantizer f16, sq8, pq or rabitq (plain vectors need no re-ranking)');
  if (args.given.has('rerank-codes') && args.values.get('keep-plain') === false)
    throw new UsageError('build: --rerank-codes keeps a re-ranking store and --keep-plain false keeps none: give one of them');
  if (args.values.get('rerank-codes') === quantizer)
    throw new UsageError(
      `build: --rerank-codes ${quantizer} re-scores with the codes the search already used: give f32, or another encoding`,
    );
  if (quantizer !== 'rabitq' && args.given.has('bits')) throw new UsageError('build: --bits only applies to --quantizer rabitq');
  if (quantizer !== 'pq') {
    for (const f of PQ_FLAGS) if (args.given.has(f)) throw new UsageError(`build: --${f} only applies to --quantizer pq`);
  } else if (!args.given.has('pq-m')) {
    throw new UsageError('build: --quantizer pq needs --pq-m M (subspaces = bytes per vector; M must divide the dimension)');
  }
}

/**
 * The re-ranking store an hnsw build with a quantizer keeps: none, or the plain vectors ('f32')
 * or codes of them. By default f16 keeps none (it matches f32 recall without re-ranking) and
 * sq8, pq and rabitq keep f32; --rerank-codes implies keeping one.
 */
export function rerankKept(args: ParsedArgs, type: string, quantizer: string): RerankCodes | null {
  if (type !== 'hnsw' || quantizer === 'plain') return null;
  const codes = args.values.get('rerank-codes') as RerankCodes | undefined;
  const keep = (args.values.get('keep-plain') as boolean | undefined) ?? (codes !== undefined || quantizer !== 'f16');
  return keep ? (codes ?? 'f32') : null;
}
