import { DENSE_QUERY_KERNELS } from '../dense/wasm-kernels.js';
import { PQ_KERNELS } from '../pq/wasm-kernels.js';
import { SCALAR_KERNELS } from '../scalar/wasm-kernels.js';
import { SPARSE_KERNELS } from '../sparse/wasm-kernels.js';
import { F32, I32, MAX_PAGES, op, V128 } from './encoder.js';
import { encodeModule, type KernelExports, kernel, times } from './kernel.js';

/**
 * WebAssembly SIMD distance kernels (f32x4, four accumulators = 16 floats per iteration, a
 * scalar tail). Pointers and lengths are in bytes of the imported memory. The gather and pairs
 * loops score four rows per call (dense/wasm-kernels.ts, one accumulator per row).
 *
 *   l2(a, b, nbytes) / ip(a, b, nbytes)                     -> f32 (ip returns the dot product)
 *   l2Gather / ipGather(q, base, nbytes, ids, count, out)   out[j] = f(q, base + ids[j]*nbytes)
 *   l2Pairs / ipPairs(qbase, qstride, base, nbytes, slots, ids, count, out)
 *                                     out[j] = f(qbase + slots[j]*qstride, base + ids[j]*nbytes)
 * Accumulation is in f32 (the JS kernels accumulate in f64): results agree to ~1e-6 relative.
 */

function oneKernel<N extends string>(name: N, squareDiff: boolean) {
  return kernel({
    name,
    params: ['a', 'b', 'nbytes'],
    results: [F32],
    locals: { i: I32, end: I32, acc: times(4, V128), d: V128, s: F32, t: F32 },
    body: (v) => {
      const lane = (k: number): number[] => {
        const pa = [...op.get(v.a), ...op.get(v.i), ...op.i32Add, ...op.v128Load(16 * k)];
        const pb = [...op.get(v.b), ...op.get(v.i), ...op.i32Add, ...op.v128Load(16 * k)];
        const combine = squareDiff
          ? [...op.f32x4Sub, ...op.tee(v.d), ...op.get(v.d), ...op.f32x4Mul]
          : [...op.f32x4Mul];
        return [...op.get(v.acc(k)), ...pa, ...pb, ...combine, ...op.f32x4Add, ...op.set(v.acc(k))];
      };
      const tailTerm = squareDiff
        ? [...op.f32Sub, ...op.tee(v.t), ...op.get(v.t), ...op.f32Mul]
        : [...op.f32Mul];
      const acc = v.acc(0);
      return [
        op.get(v.nbytes), op.i32(-64), op.i32And, op.set(v.end),
        op.block, op.loop,
        op.get(v.i), op.get(v.end), op.i32GeU, op.brIf(1),
        lane(0), lane(1), lane(2), lane(3),
        op.get(v.i), op.i32(64), op.i32Add, op.set(v.i),
        op.br(0), op.end, op.end,
        op.get(acc), op.get(v.acc(1)), op.f32x4Add, op.get(v.acc(2)), op.get(v.acc(3)), op.f32x4Add, op.f32x4Add, op.set(acc),
        op.get(acc), op.f32x4Lane(0), op.get(acc), op.f32x4Lane(1), op.f32Add,
        op.get(acc), op.f32x4Lane(2), op.get(acc), op.f32x4Lane(3), op.f32Add, op.f32Add, op.set(v.s),
        op.block, op.loop,
        op.get(v.i), op.get(v.nbytes), op.i32GeU, op.brIf(1),
        op.get(v.s),
        op.get(v.a), op.get(v.i), op.i32Add, op.f32Load(),
        op.get(v.b), op.get(v.i), op.i32Add, op.f32Load(),
        tailTerm, op.f32Add, op.set(v.s),
        op.get(v.i), op.i32(4), op.i32Add, op.set(v.i),
        op.br(0), op.end, op.end,
        op.get(v.s),
      ];
    },
  });
}

/** Every kernel of the module, in export order (calls between them are by name). */
export const KERNELS = [oneKernel('l2', true), oneKernel('ip', false), ...DENSE_QUERY_KERNELS, ...PQ_KERNELS, ...SPARSE_KERNELS, ...SCALAR_KERNELS];

/** The module's exports: one function per kernel, typed from the definitions. */
export type WasmKernels = KernelExports<typeof KERNELS>;

/**
 * The smallest module that needs WebAssembly SIMD (one v128.const) and imports its memory like
 * the kernels do, written out byte by byte so that it does not depend on the encoder it checks:
 * where it does not validate, the platform lacks SIMD (or shared memory) and the stores use
 * their JS kernels.
 */
function simdProbe(shared: boolean): Uint8Array<ArrayBuffer> {
  const limits = shared ? [0x03, 0x01, 0x01] : [0x00, 0x01];
  const imports = [0x01, 0x01, 0x65, 0x01, 0x6d, 0x02, ...limits];
  const body = [0x00, 0xfd, 0x0c, ...new Array<number>(16).fill(0), 0x1a, 0x0b];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
    0x02, imports.length, ...imports,
    0x03, 0x02, 0x01, 0x00,
    0x0a, body.length + 2, 0x01, body.length, ...body,
  ]);
}

/** Whether this platform runs WebAssembly SIMD (with a shared memory, if `shared`). */
export function wasmSimdSupported(shared: boolean): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(simdProbe(shared));
}

/**
 * Compiles kernel module bytes: null where the platform lacks WebAssembly SIMD; where it has it,
 * bytes that do not compile are a bug in the kernels, and throw (a silent fall back to the
 * ~10x slower JS kernels would hide it).
 */
export function compileKernels(bytes: Uint8Array<ArrayBuffer>, shared: boolean): WebAssembly.Module | null {
  if (!wasmSimdSupported(shared)) return null;
  try {
    return new WebAssembly.Module(bytes);
  } catch (e) {
    throw new Error(`internal error: the WebAssembly kernel module does not compile: ${e instanceof Error ? e.message : String(e)}`);
  }
}

const compiled = new Map<boolean, WebAssembly.Module | null>();

/**
 * The compiled kernel module, or null where WebAssembly SIMD is unavailable (see
 * compileKernels: a module that does not compile throws). A module declares whether its memory
 * is shared (threads), so there is one of each kind.
 */
export function kernelModule(shared: boolean): WebAssembly.Module | null {
  const known = compiled.get(shared);
  if (known !== undefined) return known;
  const mod = wasmSimdSupported(shared) ? compileKernels(encodeModule(KERNELS, shared ? { maxPages: MAX_PAGES } : undefined), shared) : null;
  compiled.set(shared, mod);
  return mod;
}

/** Instantiates the kernels over `memory`, or returns null without SIMD support. */
export function instantiateKernels(memory: WebAssembly.Memory, shared: boolean): WasmKernels | null {
  const mod = kernelModule(shared);
  if (mod === null) return null;
  return new WebAssembly.Instance(mod, { e: { m: memory } }).exports as unknown as WasmKernels;
}
