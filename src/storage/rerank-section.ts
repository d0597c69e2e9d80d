import { fail } from '../errors.js';
import type { SectionEntry } from '../io/container.js';

/** Where the plain re-ranking vectors lie in an index file. */
export interface RerankRows {
  /** Byte offset of the row-major f32 vectors. */
  offset: number;
  /** Rows. */
  size: number;
  /** Floats per row. */
  dim: number;
}

/**
 * The file's `rerank.vectors` section, checked against the header's description of the
 * re-ranking store: what a store reading the rows from the file (rerank 'disk') needs. Only
 * plain dense vectors can be read that way (UNSUPPORTED_FORMAT for f16 / sq8 re-ranking codes).
 */
export function rerankRowsOf(params: Record<string, unknown>, entries: readonly SectionEntry[]): RerankRows {
  if (params['kind'] !== 'dense')
    fail('UNSUPPORTED_FORMAT', `re-ranking from disk needs plain dense vectors, the file holds '${String(params['kind'])}'`);
  const size = params['size'];
  const dim = params['dim'];
  if (!Number.isSafeInteger(size) || !Number.isSafeInteger(dim) || (size as number) < 0 || (dim as number) < 1) {
    fail('CORRUPT_FILE', 'index header has an invalid re-ranking store');
  }
  const e = entries.find((x) => x.name === 'rerank.vectors');
  if (!e) return fail('CORRUPT_FILE', "index file lacks its 'rerank.vectors' section");
  if (e.dtype !== 'f32') fail('CORRUPT_FILE', "section 'rerank.vectors' has the wrong element type");
  if (e.length !== (size as number) * (dim as number))
    fail('CORRUPT_FILE', `vectors section holds ${e.length} floats, expected ${String(size)} x ${String(dim)}`);
  return { offset: e.offset, size: size as number, dim: dim as number };
}
