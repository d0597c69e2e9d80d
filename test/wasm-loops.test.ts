import { describe, expect, it } from 'vitest';
import { kernelModule, type WasmKernels, wasmSimdSupported } from '../src/quant/wasm/kernels-wasm.js';
import { Rng } from '../src/util/rng.js';

/**
 * The loops around the one-pair kernels (gather, pairs, PQ ADC) first touch every row they
 * will score, writing the touched bytes into their output scratch. These tests pin that the
 * pass changes no result and writes nothing outside out[0, count).
 */
describe('WebAssembly gather and pairs loops', () => {
  // Node (>= 20) has WebAssembly SIMD: the kernels must be there, and these tests never skip.
  const mod = kernelModule(false);
  const page = 65536;
  const memory = new WebAssembly.Memory({ initial: 16 });
  const k = mod === null ? null : (new WebAssembly.Instance(mod, { e: { m: memory } }).exports as unknown as WasmKernels);
  const f32 = new Float32Array(memory.buffer);
  const u32 = new Uint32Array(memory.buffer);
  const u8 = new Uint8Array(memory.buffer);
  const rng = new Rng(11);
  // Layout (bytes): rows at 0, queries at 64 KiB, ids at 128 KiB, slots at 132 KiB, out at 136 KiB.
  const dim = 20;
  const nbytes = dim * 4;
  const n = 500;
  const Q = page,
    IDS = 2 * page,
    SLOTS = IDS + 4096,
    OUT = SLOTS + 4096;
  for (let i = 0; i < n * dim; i++) f32[i] = rng.nextOpenUnit() * 2 - 1;
  for (let i = 0; i < 3 * dim; i++) f32[Q / 4 + i] = rng.nextOpenUnit() * 2 - 1;

  const SENTINEL = 0xdeadbeef;
  function prepare(count: number): void {
    for (let j = 0; j < count; j++) {
      u32[IDS / 4 + j] = Math.floor(rng.nextOpenUnit() * n) % n;
      u32[SLOTS / 4 + j] = j % 3;
    }
    u32.fill(SENTINEL, OUT / 4, OUT / 4 + 64);
  }
  /** out[count..64) still holds the sentinel: the loop wrote nothing past its outputs. */
  function untouchedFrom(count: number): boolean {
    for (let j = count; j < 64; j++) if (u32[OUT / 4 + j] !== SENTINEL) return false;
    return true;
  }

  it('the kernel module compiles (Node has WebAssembly SIMD, so no store may fall back to the JS kernels)', () => {
    expect(wasmSimdSupported(false)).toBe(true);
    expect(mod).not.toBeNull();
  });

  it('gather and pairs score like the one-pair kernels, for every count from 0 to 40', () => {
    for (let count = 0; count <= 40; count++) {
      for (const [gather, one] of [
        ['l2Gather', 'l2'],
        ['ipGather', 'ip'],
      ] as const) {
        prepare(count);
        k![gather](Q, 0, nbytes, IDS, count, OUT);
        for (let j = 0; j < count; j++) expect(f32[OUT / 4 + j]).toBeCloseTo(k![one](Q, u32[IDS / 4 + j]! * nbytes, nbytes), 5);
        expect(untouchedFrom(count)).toBe(true);
      }
      for (const [pairs, one] of [
        ['l2Pairs', 'l2'],
        ['ipPairs', 'ip'],
      ] as const) {
        prepare(count);
        k![pairs](Q, nbytes, 0, nbytes, SLOTS, IDS, count, OUT);
        for (let j = 0; j < count; j++) {
          expect(f32[OUT / 4 + j]).toBeCloseTo(k![one](Q + u32[SLOTS / 4 + j]! * nbytes, u32[IDS / 4 + j]! * nbytes, nbytes), 5);
        }
        expect(untouchedFrom(count)).toBe(true);
      }
    }
  });

  // The gather and pairs loops score four rows per group call (one accumulator each), a list's
  // last two or three in one padded group call, and a last single row through the row kernel:
  // every path must add in the same order, so that a query's distance to an item does not
  // depend on where the item sits in a list, nor on single vs batched search. (The dense
  // item-to-item kernels l2/ip use four accumulators: close, not equal.)
  function expectSameBitsEverywhere(gather: string, pairs: string, row: string, nb: number, qstride: number): void {
    const kk = k as unknown as Record<string, (...a: number[]) => number>;
    for (const count of [1, 2, 3, 4, 5, 7, 8, 9, 33]) {
      prepare(count);
      const ids = Array.from(u32.subarray(IDS / 4, IDS / 4 + count));
      const slots = Array.from(u32.subarray(SLOTS / 4, SLOTS / 4 + count));
      kk[gather]!(Q, 0, nb, IDS, count, OUT);
      const listed = Array.from(f32.subarray(OUT / 4, OUT / 4 + count));
      expect(untouchedFrom(count)).toBe(true);
      kk[pairs]!(Q, qstride, 0, nb, SLOTS, IDS, count, OUT);
      const paired = Array.from(f32.subarray(OUT / 4, OUT / 4 + count));
      expect(untouchedFrom(count)).toBe(true);
      for (let j = 0; j < count; j++) {
        expect(listed[j]).toBe(kk[row]!(Q, ids[j]! * nb, nb));
        expect(paired[j]).toBe(kk[row]!(Q + slots[j]! * qstride, ids[j]! * nb, nb));
      }
    }
  }

  it('dense gather and pairs give a row the same bits wherever it sits, with or without a scalar tail', () => {
    for (const d of [20, 23, 3]) {
      expectSameBitsEverywhere('l2Gather', 'l2Pairs', 'l2Row', d * 4, d * 4);
      expectSameBitsEverywhere('ipGather', 'ipPairs', 'ipRow', d * 4, d * 4);
    }
  });

  it('f16 and SQ8 gather and pairs give a row the same bits wherever it sits', () => {
    // Rows of 32 components at byte 0: f16 halves in [1, 2) with random signs (64 bytes), or
    // SQ8 codes (any byte). Queries: f32 values, then SQ8 l2's scales after them.
    for (let i = 0; i < 3 * 64; i++) f32[Q / 4 + i] = rng.nextOpenUnit() * 2 - 1;
    const halves = new Uint16Array(memory.buffer, 0, n * 32);
    for (let i = 0; i < halves.length; i++)
      halves[i] = 0x3c00 + Math.floor(rng.nextOpenUnit() * 0x400) + (rng.nextOpenUnit() < 0.5 ? 0x8000 : 0);
    for (const kind of ['f16L2', 'f16Ip']) expectSameBitsEverywhere(`${kind}Gather`, `${kind}Pairs`, kind, 64, 4 * 32);
    for (let i = 0; i < n * 32; i++) u8[i] = Math.floor(rng.nextOpenUnit() * 256) & 255;
    expectSameBitsEverywhere('sq8L2Gather', 'sq8L2Pairs', 'sq8L2', 32, 8 * 32);
    // SQ8 ip reads the query as i16: small integers keep every i32 lane in range.
    const q16 = new Int16Array(memory.buffer, Q, 3 * 32);
    for (let i = 0; i < q16.length; i++) q16[i] = Math.floor(rng.nextOpenUnit() * 200) - 100;
    expectSameBitsEverywhere('sq8IpGather', 'sq8IpPairs', 'sq8Ip', 32, 2 * 32);
  });

  it('PQ ADC over 3-byte codes: the touch reads a byte, sums are exact, nothing past the outputs is written', () => {
    const m = 3;
    const CODES = 3 * page;
    const LUT = 4 * page;
    for (let i = 0; i < n * m; i++) u8[CODES + i] = Math.floor(rng.nextOpenUnit() * 256) & 255;
    for (let i = 0; i < 2 * m * 256; i++) f32[LUT / 4 + i] = Math.round(rng.nextOpenUnit() * 1000) / 8;
    const expected = (lut: number, id: number) => {
      let s = 0;
      for (let j = 0; j < m; j++) s += f32[lut / 4 + j * 256 + u8[CODES + id * m + j]!]!;
      return s;
    };
    for (let count = 0; count <= 40; count++) {
      prepare(count);
      k!.pqAdc(LUT, CODES, m, IDS, count, OUT);
      for (let j = 0; j < count; j++) expect(f32[OUT / 4 + j]).toBe(expected(LUT, u32[IDS / 4 + j]!));
      expect(untouchedFrom(count)).toBe(true);
      prepare(count);
      for (let j = 0; j < count; j++) u32[SLOTS / 4 + j] = j % 2;
      k!.pqAdcPairs(LUT, m * 256 * 4, CODES, m, SLOTS, IDS, count, OUT);
      for (let j = 0; j < count; j++) expect(f32[OUT / 4 + j]).toBe(expected(LUT + u32[SLOTS / 4 + j]! * m * 1024, u32[IDS / 4 + j]!));
      expect(untouchedFrom(count)).toBe(true);
    }
  });
});
