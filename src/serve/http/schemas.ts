/**
 * JSON schemas of every request body (and of the binary search's query string). Fastify
 * validates each body against its schema before a route sees it, with type coercion and the
 * removal of unknown fields turned off: `"k": "10"` and a misspelt `"filer"` are 400s naming
 * the field, not silently repaired. What a schema cannot say (a vector's dimension, lists of
 * equal length, a k the index can answer) the routes and the backend check.
 */

/** Bounds on one request, so a single request cannot ask for unbounded work. */
export interface RequestLimits {
  /** Largest k. */
  readonly maxK: number;
  /** Largest ef (and rerank). */
  readonly maxEf: number;
  /** Most queries in one search request (`vectors`, or rows of a binary body). */
  readonly maxQueries: number;
  /** Most items in one write. */
  readonly maxItems: number;
}

/** The bounds of one request unless HttpServerOptions.limits says otherwise. */
export const DEFAULT_LIMITS: RequestLimits = { maxK: 1000, maxEf: 10_000, maxQueries: 1024, maxItems: 10_000 };

const LABEL = { type: 'integer', minimum: 0, maximum: 0xffffffff } as const;

const DENSE_VECTOR = { type: 'array', minItems: 1, items: { type: 'number' } } as const;

const SPARSE_VECTOR = {
  type: 'object',
  required: ['indices', 'values'],
  additionalProperties: false,
  properties: {
    indices: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 0xffffffff } },
    values: { type: 'array', items: { type: 'number' } },
  },
} as const;

/** A dense vector as an array of numbers; on a sparse index, `{"indices":[...],"values":[...]}`. */
const VECTOR = { anyOf: [DENSE_VECTOR, SPARSE_VECTOR] } as const;

const FILTER = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  properties: { label: LABEL, labels: { type: 'array', minItems: 1, maxItems: 1024, items: LABEL } },
} as const;

const KEY = { anyOf: [{ type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER }, { type: 'string' }] } as const;

const LABEL_ROW = { anyOf: [{ type: 'null' }, LABEL, { type: 'array', maxItems: 1024, items: LABEL }] } as const;

function searchParams(limits: RequestLimits) {
  return {
    k: { type: 'integer', minimum: 1, maximum: limits.maxK },
    ef: { type: 'integer', minimum: 1, maximum: limits.maxEf },
    rerank: { type: 'integer', minimum: 0, maximum: limits.maxEf },
  } as const;
}

/** POST /search with a JSON body: one `vector` or several `vectors` (a route checks that exactly one is given). */
export function searchBodySchema(limits: RequestLimits) {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      vector: VECTOR,
      vectors: { type: 'array', minItems: 1, maxItems: limits.maxQueries, items: VECTOR },
      ...searchParams(limits),
      filter: FILTER,
    },
  } as const;
}

/**
 * POST /search with an application/octet-stream body: the parameters come in the query string
 * (as text, parsed by the route): `?k=10&ef=64&rerank=0&label=3` or `&labels=1,2,3`.
 */
export const SEARCH_QUERY_STRING_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    k: { type: 'string', pattern: '^[0-9]{1,9}$' },
    ef: { type: 'string', pattern: '^[0-9]{1,9}$' },
    rerank: { type: 'string', pattern: '^[0-9]{1,9}$' },
    label: { type: 'string', pattern: '^[0-9]{1,10}$' },
    labels: { type: 'string', pattern: '^[0-9]{1,10}(,[0-9]{1,10}){0,1023}$' },
  },
} as const;

/** POST /items: items to add (or with upsert, to replace). */
export function addItemsBodySchema(limits: RequestLimits) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['keys', 'vectors'],
    properties: {
      keys: { type: 'array', minItems: 1, maxItems: limits.maxItems, items: KEY },
      vectors: { type: 'array', minItems: 1, maxItems: limits.maxItems, items: VECTOR },
      labels: { type: 'array', maxItems: limits.maxItems, items: LABEL_ROW },
      upsert: { type: 'boolean' },
    },
  } as const;
}

/** DELETE /items: keys to remove. */
export function removeItemsBodySchema(limits: RequestLimits) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['keys'],
    properties: { keys: { type: 'array', minItems: 1, maxItems: limits.maxItems, items: KEY } },
  } as const;
}

/** The JSON bodies' TypeScript shapes, as the schemas guarantee them. */
export type JsonVector = number[] | { indices: number[]; values: number[] };
export type JsonFilter = { label: number } | { labels: number[] };

export interface SearchBody {
  vector?: JsonVector;
  vectors?: JsonVector[];
  k?: number;
  ef?: number;
  rerank?: number;
  filter?: JsonFilter;
}

export interface AddItemsBody {
  keys: (number | string)[];
  vectors: JsonVector[];
  labels?: (number | number[] | null)[];
  upsert?: boolean;
}

export interface RemoveItemsBody {
  keys: (number | string)[];
}
