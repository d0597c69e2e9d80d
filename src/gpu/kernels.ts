/**
 * What the host and each shader (shaders/*.wgsl) must agree on, in one place: the fields of the
 * shader's `struct Params` in WGSL order, and the group-0 bindings it declares. The host fills a
 * Params block by field name (paramWords: a missing or unknown field is an error, so a value can
 * no longer land in the wrong slot) and binds buffers by name where it builds the list itself
 * (bindingList). test/shaders.test.ts parses every shader's struct and bindings and checks them
 * against these descriptors, so the two sides cannot drift apart.
 */
export interface GpuKernel<F extends string = string, B extends string = string> {
  /** The shader's name (its file in shaders/ without `.wgsl`). */
  readonly shader: string;
  /** `struct Params` fields in WGSL order, all u32 (none for a snippet); `_`-prefixed fields are padding, written 0. */
  readonly params: readonly F[];
  /** The bindings of group 0 the file declares: name -> binding number. */
  readonly bindings: Readonly<Record<B, number>>;
  /** A snippet is compiled before this main shader, whose Params it reads and whose bindings it completes. */
  readonly main?: string;
}

type Padding = `_${string}`;

/** The values a caller gives for a Params block: every field but the padding. */
export type ParamValues<F extends string> = { readonly [K in Exclude<F, Padding>]: number };

function gpuKernel<const F extends string, const B extends string>(
  shader: string,
  params: readonly F[],
  bindings: Readonly<Record<B, number>>,
  main?: string,
): GpuKernel<F, B> {
  return main === undefined ? { shader, params, bindings } : { shader, params, bindings, main };
}

/** One descriptor per shader in shaders/. */
export const GPU_KERNELS = {
  beam_resident: gpuKernel(
    'beam_resident',
    ['queryCount', 'queryBase', 'slotBase', 'groupsX', 'ef', 'outK', 'entry', 'maxLevel', 'maxIters', '_pad0', '_pad1', '_pad2'],
    { graph0: 0, upper: 1, out: 2, params: 3 },
  ),
  resident_dense: gpuKernel('resident_dense', [], { queries: 4 }, 'beam_resident'),
  resident_f16: gpuKernel('resident_f16', [], { queries: 4 }, 'beam_resident'),
  resident_sq8: gpuKernel('resident_sq8', [], { queries: 4, mins: 5, steps: 6 }, 'beam_resident'),
  resident_pq: gpuKernel('resident_pq', [], { luts: 4 }, 'beam_resident'),
  resident_rabitq: gpuKernel('resident_rabitq', [], { queries: 4 }, 'beam_resident'),
  resident_sparse: gpuKernel('resident_sparse', [], { queries: 4, indptr: 5, indices: 6, values: 7, norms: 8 }, 'beam_resident'),
  row_pairs: gpuKernel('row_pairs', ['count', 'vecs', 'metric', 'groupsX', 'base', 'encoding', '_pad0', '_pad1'], {
    queries: 1,
    pairs: 2,
    out: 3,
    params: 4,
  }),
  dense_pairs: gpuKernel('dense_pairs', [], { items: 0 }, 'row_pairs'),
  scalar_pairs: gpuKernel('scalar_pairs', [], { items: 0, mins: 5, steps: 6 }, 'row_pairs'),
  pq_adc_pairs: gpuKernel('pq_adc_pairs', ['count', 'm', 'wordsPerRow', 'groupsX', 'base', '_pad0', '_pad1', '_pad2'], {
    codes: 0,
    luts: 1,
    pairs: 2,
    out: 3,
    params: 4,
  }),
  rabitq_pairs: gpuKernel('rabitq_pairs', ['count', 'groupsX', 'base', 'positions', 'bits', 'rowWords', 'queryWords', 'metric'], {
    rows: 0,
    queries: 1,
    pairs: 2,
    out: 3,
    params: 4,
  }),
  sparse_pairs: gpuKernel('sparse_pairs', ['count', 'dim', 'metric', 'groupsX'], {
    indptr: 0,
    indices: 1,
    values: 2,
    queries: 3,
    norms: 4,
    pairs: 5,
    out: 6,
    params: 7,
  }),
  expand_pairs: gpuKernel('expand_pairs', ['total', 'm0', 'groupsX', '_pad'], { graph0: 0, expansions: 1, pairs: 2, params: 3 }),
  pq_lut: gpuKernel('pq_lut', ['total', 'm', 'dsub', 'metric', 'dim', 'groupsX', '_pad0', '_pad1'], {
    codebooks: 0,
    queries: 1,
    luts: 2,
    params: 3,
  }),
  dense_scan: gpuKernel('dense_scan', ['nq', 'n', 'vecsPerRow', 'metric', 'outStride', 'idBase', 'groupsX', '_pad'], {
    items: 0,
    queries: 1,
    out: 2,
    params: 3,
  }),
  pq_scan: gpuKernel('pq_scan', ['nq', 'n', 'm', 'wordsPerRow', 'outStride', 'idBase', 'groupsX', '_pad'], {
    codes: 0,
    luts: 1,
    out: 2,
    params: 3,
  }),
  topk: gpuKernel('topk', ['len', 'segs', 'k', 'implicitIds'], { inDist: 0, inIds: 1, outDist: 2, outIds: 3, params: 4 }),
  kmeans_assign: gpuKernel('kmeans_assign', ['n', 'k', 'dim', 'groupsX'], { points: 0, centroids: 1, assign: 2, dist: 3, params: 4 }),
};

export type ShaderName = keyof typeof GPU_KERNELS;

/** The descriptor of shader `name` (for callers that hold a shader's name). */
export function gpuKernelOf(name: string): GpuKernel {
  const kernel = (GPU_KERNELS as Record<string, GpuKernel>)[name];
  if (kernel === undefined) throw new Error(`internal error: no GPU kernel descriptor for shader '${name}'`);
  return kernel;
}

/**
 * The Params block of `kernel` from field values by name: checked against the descriptor (a
 * missing or unknown field, or a value that is not a u32, is an internal error naming the
 * kernel); padding is written 0.
 */
export function paramWords<F extends string>(kernel: GpuKernel<F>, values: ParamValues<F>): Uint32Array {
  const given = values as Readonly<Record<string, number>>;
  const words = new Uint32Array(kernel.params.length);
  for (let i = 0; i < kernel.params.length; i++) {
    const field = kernel.params[i]!;
    if (field.startsWith('_')) continue;
    const v = given[field];
    if (v === undefined) throw new Error(`internal error: ${kernel.shader} Params.${field} was not given`);
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
      throw new Error(`internal error: ${kernel.shader} Params.${field} = ${v} is not a u32`);
    words[i] = v;
  }
  for (const field of Object.keys(given)) {
    if (field.startsWith('_') || !(kernel.params as readonly string[]).includes(field))
      throw new Error(`internal error: ${kernel.shader} has no Params field '${field}'`);
  }
  return words;
}

/** Binding numbers of `kernel` together with those of the main shader it is a snippet of (if any), sorted. */
export function composedBindings(kernel: GpuKernel): number[] {
  const own = Object.values<number>(kernel.bindings);
  const main = kernel.main === undefined ? [] : Object.values<number>(gpuKernelOf(kernel.main).bindings);
  return [...main, ...own].sort((a, b) => a - b);
}

/**
 * `buffers` by binding name, in binding order, for a kernel whose bindings are 0..n-1 (what
 * encodeDispatch binds): a missing or unknown name is an internal error naming the kernel.
 */
export function bindingList<B extends string>(kernel: GpuKernel<string, B>, buffers: Readonly<Record<B, GPUBuffer>>): GPUBuffer[] {
  const given = buffers as Readonly<Record<string, GPUBuffer>>;
  const list: GPUBuffer[] = [];
  for (const [name, binding] of Object.entries<number>(kernel.bindings)) {
    const buffer = given[name];
    if (buffer === undefined) throw new Error(`internal error: ${kernel.shader} binding '${name}' was not given`);
    list[binding] = buffer;
  }
  for (const name of Object.keys(given))
    if (!(name in kernel.bindings)) throw new Error(`internal error: ${kernel.shader} has no binding '${name}'`);
  for (let b = 0; b < list.length; b++)
    if (list[b] === undefined) throw new Error(`internal error: ${kernel.shader} leaves binding ${b} open`);
  return list;
}
