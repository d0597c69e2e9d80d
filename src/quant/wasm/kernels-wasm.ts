import { denseQueryKernels } from '../dense/wasm-kernels.js';
import { PQ_KERNELS, type PqWasmKernels } from '../pq/wasm-kernels.js';
import { type ScalarWasmKernels, scalarKernels } from '../scalar/wasm-kernels.js';
import { type SparseWasmKernels, sparseKernels } from '../sparse/wasm-kernels.js';
import { encodeModule, F32, type FuncDef, I32, MAX_PAGES, op, V128 } from './encoder.js';

/**
 * WebAssembly SIMD distance kernels (f32x4, four accumulators = 16 floats per iteration, a
 * scalar tail). Pointers and lengths are in bytes of the imported memory. The gather and pairs
 * loops score four rows per call (kernels-dense-query.ts, one accumulator per row).
 *
 *   l2(a, b, nbytes) / ip(a, b, nbytes)                     -> f32 (ip returns the dot product)
 *   l2Gather / ipGather(q, base, nbytes, ids, count, out)   out[j] = f(q, base + ids[j]*nbytes)
 *   l2Pairs / ipPairs(qbase, qstride, base, nbytes, slots, ids, count, out)
 *                                     out[j] = f(qbase + slots[j]*qstride, base + ids[j]*nbytes)
 * Accumulation is in f32 (the JS kernels accumulate in f64): results agree to ~1e-6 relative.
 */

function oneKernel(name: string, squareDiff: boolean): FuncDef {
  // params: 0 a, 1 b, 2 nbytes; locals: 3 i, 4 end, 5-8 acc, 9 d, 10 s
  const A = 0, B = 1, N = 2, I = 3, END = 4, ACC = 5, D = 9, S = 10;
  const lane = (k: number): number[] => {
    const pa = [...op.get(A), ...op.get(I), ...op.i32Add, ...op.v128Load(16 * k)];
    const pb = [...op.get(B), ...op.get(I), ...op.i32Add, ...op.v128Load(16 * k)];
    const combine = squareDiff
      ? [...op.f32x4Sub, ...op.tee(D), ...op.get(D), ...op.f32x4Mul]
      : [...op.f32x4Mul];
    return [...op.get(ACC + k), ...pa, ...pb, ...combine, ...op.f32x4Add, ...op.set(ACC + k)];
  };
  const tailTerm = squareDiff
    ? [...op.f32Sub, ...op.tee(S + 1), ...op.get(S + 1), ...op.f32Mul]
    : [...op.f32Mul];
  return {
    name,
    params: [I32, I32, I32],
    results: [F32],
    locals: [I32, I32, V128, V128, V128, V128, V128, F32, F32],
    body: [
      op.get(N), op.i32(-64), op.i32And, op.set(END),
      op.block, op.loop,
      op.get(I), op.get(END), op.i32GeU, op.brIf(1),
      lane(0), lane(1), lane(2), lane(3),
      op.get(I), op.i32(64), op.i32Add, op.set(I),
      op.br(0), op.end, op.end,
      op.get(ACC), op.get(ACC + 1), op.f32x4Add, op.get(ACC + 2), op.get(ACC + 3), op.f32x4Add, op.f32x4Add, op.set(ACC),
      op.get(ACC), op.f32x4Lane(0), op.get(ACC), op.f32x4Lane(1), op.f32Add,
      op.get(ACC), op.f32x4Lane(2), op.get(ACC), op.f32x4Lane(3), op.f32Add, op.f32Add, op.set(S),
      op.block, op.loop,
      op.get(I), op.get(N), op.i32GeU, op.brIf(1),
      op.get(S),
      op.get(A), op.get(I), op.i32Add, op.f32Load(),
      op.get(B), op.get(I), op.i32Add, op.f32Load(),
      tailTerm, op.f32Add, op.set(S),
      op.get(I), op.i32(4), op.i32Add, op.set(I),
      op.br(0), op.end, op.end,
      op.get(S),
    ],
  };
}

export interface WasmKernels extends PqWasmKernels, ScalarWasmKernels, SparseWasmKernels {
  l2(a: number, b: number, nbytes: number): number;
  ip(a: number, b: number, nbytes: number): number;
  l2Gather(q: number, base: number, nbytes: number, ids: number, count: number, out: number): void;
  ipGather(q: number, base: number, nbytes: number, ids: number, count: number, out: number): void;
  l2Pairs(qbase: number, qstride: number, base: number, nbytes: number, slots: number, ids: number, count: number, out: number): void;
  ipPairs(qbase: number, qstride: number, base: number, nbytes: number, slots: number, ids: number, count: number, out: number): void;
  /** A query's distance to one row, in the gather kernels' order of additions (l2: squared; ip: dot product). */
  l2Row(q: number, x: number, nbytes: number): number;
  ipRow(q: number, x: number, nbytes: number): number;
}

const compiled = new Map<boolean, WebAssembly.Module | null>();

/**
 * The compiled kernel module, or null where WebAssembly SIMD is unavailable. A module
 * declares whether its memory is shared (threads), so there is one of each kind.
 */
export function kernelModule(shared: boolean): WebAssembly.Module | null {
  const known = compiled.get(shared);
  if (known !== undefined) return known;
  let mod: WebAssembly.Module | null;
  try {
    const funcs = [
      oneKernel('l2', true), // 0
      oneKernel('ip', false), // 1
      ...denseQueryKernels(2),
      ...PQ_KERNELS,
      ...sparseKernels(),
    ];
    // The scalar kernels call their one-pair kernels by index: they go last, told where they start.
    funcs.push(...scalarKernels(funcs.length));
    const bytes = encodeModule(funcs, shared ? { maxPages: MAX_PAGES } : undefined);
    mod = typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  } catch {
    mod = null;
  }
  compiled.set(shared, mod);
  return mod;
}

/** Instantiates the kernels over `memory`, or returns null without SIMD support. */
export function instantiateKernels(memory: WebAssembly.Memory, shared: boolean): WasmKernels | null {
  const mod = kernelModule(shared);
  if (mod === null) return null;
  return new WebAssembly.Instance(mod, { e: { m: memory } }).exports as unknown as WasmKernels;
}
