import { describe, expect, expectTypeOf, it } from 'vitest';
import { F32, I32, op } from '../src/quant/wasm/encoder.js';
import { encodeModule, type Kernel, type KernelExports, kernel, times } from '../src/quant/wasm/kernel.js';
import { compileKernels, KERNELS, kernelModule, type WasmKernels, wasmSimdSupported } from '../src/quant/wasm/kernels-wasm.js';

/**
 * The kernel definitions name their params, locals and callees (kernel.ts); these tests pin the
 * naming (declaration order, runs, calls resolved by name), that mistakes are errors, that the
 * module's exports and their TypeScript type follow the definitions, and that a module which
 * does not compile throws instead of sending every store to the JS kernels.
 */

// twice(a, b) = one(a) + one(b), one(x) = x * 2 + 1 via locals; `twice` comes first and calls `one` by name.
const twice = kernel({
  name: 'twice',
  params: ['a', 'b'],
  results: [I32],
  locals: {},
  body: (v, call) => [op.get(v.a), call('one'), op.get(v.b), call('one'), op.i32Add],
});
const one = kernel({
  name: 'one',
  params: ['x'],
  results: [I32],
  locals: { pad: times(3, F32), y: I32 },
  body: (v) => [op.get(v.x), op.i32(2), op.i32Mul, op.set(v.y), op.get(v.y), op.i32(1), op.i32Add],
});
// sum of a run of three params: p(0) + p(1) + p(2)
const sum3 = kernel({
  name: 'sum3',
  params: [['p', 3]],
  results: [I32],
  locals: {},
  body: (v) => [op.get(v.p(0)), op.get(v.p(1)), op.i32Add, op.get(v.p(2)), op.i32Add],
});

function instantiate(kernels: readonly Kernel[]): Record<string, (...a: number[]) => number> {
  const mod = compileKernels(encodeModule(kernels), false);
  if (mod === null) throw new Error('no WebAssembly SIMD');
  return new WebAssembly.Instance(mod, { e: { m: new WebAssembly.Memory({ initial: 1 }) } }).exports as never;
}

describe('WebAssembly kernel definitions', () => {
  it('number params and locals in declaration order and resolve calls by name', () => {
    const e = instantiate([twice, one, sum3]);
    expect(e['twice']!(3, 10)).toBe(7 + 21);
    expect(e['one']!(5)).toBe(11);
    expect(e['sum3']!(1, 20, 300)).toBe(321);
  });

  it('reject an unknown callee, a kernel defined twice, a name declared twice and a run index past its end', () => {
    expect(() => encodeModule([twice])).toThrow(/twice calls one, which the module does not define/);
    expect(() => encodeModule([one, one])).toThrow(/one is defined twice/);
    const clash = kernel({ name: 'clash', params: ['x'], results: [], locals: { x: I32 }, body: () => [] });
    expect(() => encodeModule([clash])).toThrow(/'x' is declared twice/);
    const past = kernel({ name: 'past', params: [['p', 2]], results: [I32], locals: {}, body: (v) => [op.get(v.p(2))] });
    expect(() => encodeModule([past])).toThrow(/p\(2\) is outside its run of 2/);
  });

  it('a module that does not compile throws where SIMD is available (never a silent JS fallback)', () => {
    expect(wasmSimdSupported(false)).toBe(true);
    expect(wasmSimdSupported(true)).toBe(true);
    // Leaves an f32 on the stack of a function that returns nothing.
    const bad = kernel({ name: 'bad', params: [], results: [], locals: {}, body: () => [op.f32Const0] });
    expect(() => compileKernels(encodeModule([bad]), false)).toThrow(/internal error: the WebAssembly kernel module does not compile/);
  });

  it('the module exports every kernel, in order, each taking its declared parameters', () => {
    for (const shared of [false, true]) {
      const mod = kernelModule(shared);
      expect(mod).not.toBeNull();
      expect(WebAssembly.Module.exports(mod!).map((x) => x.name)).toEqual(KERNELS.map((k) => k.name));
      const memory = new WebAssembly.Memory({ initial: 1, maximum: shared ? 65536 - 1024 : undefined, shared });
      const exports = new WebAssembly.Instance(mod!, { e: { m: memory } }).exports as Record<string, (...a: number[]) => unknown>;
      for (const k of KERNELS) {
        const arity = k.params.reduce((n, p) => n + (typeof p === 'string' ? 1 : p[1]), 0);
        expect(exports[k.name]!.length, k.name).toBe(arity);
      }
    }
  });

  it('the TypeScript interface follows the definitions', () => {
    expectTypeOf<KernelExports<[typeof twice, typeof one, typeof sum3]>>().toEqualTypeOf<{
      readonly twice: (a: number, b: number) => number;
      readonly one: (x: number) => number;
      readonly sum3: (...args: number[]) => number;
    }>();
    expectTypeOf<WasmKernels['l2']>().toEqualTypeOf<(a: number, b: number, nbytes: number) => number>();
    expectTypeOf<WasmKernels['sq8IpGather']>().toEqualTypeOf<
      (q: number, base: number, nbytes: number, ids: number, count: number, out: number) => void
    >();
    expectTypeOf<WasmKernels['pqAdcPairs']>().parameters.toEqualTypeOf<[number, number, number, number, number, number, number, number]>();
    expectTypeOf<WasmKernels['sparseIpGather']>().returns.toEqualTypeOf<void>();
  });
});
