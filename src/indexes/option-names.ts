import { fail } from '../errors.js';

/**
 * The names each options object of the indexes takes, and the check that refuses any other
 * name: a misspelt option (`efSearch` for `ef`) would otherwise be ignored without a word.
 */

/** The default params object of the searches: never checked (nothing to check), never changed. */
export const NO_PARAMS: Readonly<Record<never, never>> = Object.freeze({});

/** HnswIndex.search's params (HnswSearchParams). */
export const SEARCH_PARAM_NAMES: ReadonlySet<string> = new Set(['ef', 'rerank', 'filter', 'lambda']);

/** BackendOptions: FlatIndex.searchBatch's options, and part of HnswIndex.searchBatch's. */
export const BACKEND_OPTION_NAMES: ReadonlySet<string> = new Set(['backend', 'gpu', 'onFallback']);

/** HnswIndex.searchBatch's params (HnswBatchParams). */
export const BATCH_PARAM_NAMES: ReadonlySet<string> = new Set([
  ...SEARCH_PARAM_NAMES,
  ...BACKEND_OPTION_NAMES,
  'gpuMode',
  'batchSize',
  'hybridLanes',
  'width',
  'evaluator',
  'threads',
]);

/** HnswBuildParams: buildOnStore's options. */
export const BUILD_PARAM_NAMES: ReadonlySet<string> = new Set(['m', 'efConstruction', 'seed', 'keepPruned', 'onProgress']);

/** What an asynchronous build, add or compact takes besides its own options. */
const ASYNC_NAMES = ['threads', 'signal'];

/** buildOnStoreAsync's options. */
export const ASYNC_BUILD_PARAM_NAMES: ReadonlySet<string> = new Set([...BUILD_PARAM_NAMES, ...ASYNC_NAMES]);

/** HnswIndexOptions: HnswIndex.build's options. */
export const INDEX_OPTION_NAMES: ReadonlySet<string> = new Set([...BUILD_PARAM_NAMES, 'metric', 'keys', 'labels', 'layout']);

/** HnswAsyncBuildOptions: HnswIndex.buildAsync's options. */
export const ASYNC_INDEX_OPTION_NAMES: ReadonlySet<string> = new Set([...INDEX_OPTION_NAMES, ...ASYNC_NAMES]);

/** AddOptions (add), AddAsyncOptions (addAsync), update's and compact's options. */
export const ADD_OPTION_NAMES: ReadonlySet<string> = new Set(['labels', 'upsert']);
export const ASYNC_ADD_OPTION_NAMES: ReadonlySet<string> = new Set([...ADD_OPTION_NAMES, ...ASYNC_NAMES]);
export const UPDATE_OPTION_NAMES: ReadonlySet<string> = new Set(['labels']);
export const COMPACT_OPTION_NAMES: ReadonlySet<string> = new Set(ASYNC_NAMES);

/** FlatIndex.build's options. */
export const FLAT_OPTION_NAMES: ReadonlySet<string> = new Set(['metric']);

/**
 * Throws INVALID_ARGUMENT unless `options` is an object whose own names are all in `valid`;
 * the message names the unknown option and lists the valid ones. Cheap enough for a search's
 * hot path (a loop over the few given names); callers skip it for their shared default object.
 */
export function checkOptionNames(what: string, options: object, valid: ReadonlySet<string>): void {
  if (options === null || typeof options !== 'object')
    fail('INVALID_ARGUMENT', `${what} options must be an object, got ${String(options)}`);
  for (const name in options) if (!valid.has(name)) unknownOption(what, name, valid);
}

function unknownOption(what: string, name: string, valid: ReadonlySet<string>): never {
  const lower = name.toLowerCase();
  // `efSearch` -> `ef`, `efconstruction` -> `efConstruction`: a likely meant name when one contains the other.
  const meant =
    [...valid].find((v) => v.toLowerCase() === lower) ?? [...valid].find((v) => v.length > 1 && lower.startsWith(v.toLowerCase()));
  const hint = meant === undefined ? '' : ` (did you mean '${meant}'?)`;
  fail('INVALID_ARGUMENT', `${what}: unknown option '${name}'${hint}; valid options: ${[...valid].join(', ')}`);
}
