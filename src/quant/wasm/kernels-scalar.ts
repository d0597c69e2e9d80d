import { F32, f32Bits, I32, op, V128, type FuncDef } from './encoder.js';
import { gatherKernel, stridedPairsKernel } from './loops.js';

/**
 * WebAssembly SIMD kernels for scalar-quantized rows (f16 and SQ8). Rows are padded to a
 * multiple of 16 components (zeros in both item and query, which add nothing), so the loop
 * has no scalar tail: one iteration decodes 16 components into four f32x4 and accumulates
 * against the prepared query (f32, 16-byte aligned).
 *
 * f16 decode without a float16 instruction: sign-extend each half to i32; then
 *   bits = ((h << 13) & 0x0fffe000) | (h & 0x80000000)
 * is the f32 whose value is half * 2^-112 (exponent and mantissa land in place, the exponent
 * bias differs by 112). Halves are stored without subnormals (see half.ts), so these are
 * normal f32s. The ip kernel leaves the 2^-112 to the caller (the query is pre-scaled by
 * 2^56 and the sum multiplied by 2^56, keeping every product in the normal f32 range); l2
 * multiplies by 2^112 to compare with the query in its own units.
 *
 * SQ8 (x_d = min_d + scale_d * c_d): ip is an integer dot product, the cheapest kernel here:
 * the query is taken as q_d * scale_d rounded to i16 (r_d, scaled so no i32 lane can
 * overflow), the kernel sums r_d * c_d with i32x4.dot_i16x8_s (the four lanes added in f32:
 * their sum may pass 2^31), and the caller multiplies by the query's scale and adds
 * sum q_d * min_d. l2 takes (q_d - min_d) as f32 followed, at byte
 * 4 * nbytes of the query, by scale_d: sum (a_d - scale_d * c_d)^2.
 *
 *   f16L2 / f16Ip / sq8L2 / sq8Ip (q, x, nbytes) -> f32     nbytes: code bytes of one row
 *   ...Gather (q, base, nbytes, ids, count, out), ...Pairs (qbase, qstride, base, nbytes, slots, ids, count, out)
 */
export interface ScalarWasmKernels {
  f16L2(q: number, x: number, nbytes: number): number;
  f16Ip(q: number, x: number, nbytes: number): number;
  sq8L2(q: number, x: number, nbytes: number): number;
  sq8Ip(q: number, x: number, nbytes: number): number;
  f16L2Gather(q: number, base: number, nbytes: number, ids: number, count: number, out: number): void;
  f16IpGather(q: number, base: number, nbytes: number, ids: number, count: number, out: number): void;
  sq8L2Gather(q: number, base: number, nbytes: number, ids: number, count: number, out: number): void;
  sq8IpGather(q: number, base: number, nbytes: number, ids: number, count: number, out: number): void;
  f16L2Pairs(qbase: number, qstride: number, base: number, nbytes: number, slots: number, ids: number, count: number, out: number): void;
  f16IpPairs(qbase: number, qstride: number, base: number, nbytes: number, slots: number, ids: number, count: number, out: number): void;
  sq8L2Pairs(qbase: number, qstride: number, base: number, nbytes: number, slots: number, ids: number, count: number, out: number): void;
  sq8IpPairs(qbase: number, qstride: number, base: number, nbytes: number, slots: number, ids: number, count: number, out: number): void;
}

// params: 0 q, 1 x, 2 nbytes; locals: 3 ci (code byte), 4 qi (query byte), 5-8 acc, 9 lo, 10 hi,
// 11 t, 12 d, 13 scale-block pointer (sq8 l2)
const Q = 0, X = 1, N = 2, CI = 3, QI = 4, ACC = 5, LO = 9, HI = 10, T = 11, D = 12, SB = 13;

type Encoding = 'f16' | 'sq8';

/** Pushes the f32x4 of components 4k..4k+3 of the current 16 (lo/hi hold the loaded codes). */
function decodeQuad(enc: Encoding, k: number, l2: boolean): number[][] {
  if (enc === 'sq8') {
    return [op.get(k < 2 ? LO : HI), k % 2 === 0 ? op.i32x4ExtendLowU16 : op.i32x4ExtendHighU16, op.f32x4ConvertI32x4U];
  }
  const bits = [
    op.get(k < 2 ? LO : HI), k % 2 === 0 ? op.i32x4ExtendLowS16 : op.i32x4ExtendHighS16, op.tee(T),
    op.i32(13), op.i32x4Shl, op.v128I32x4(0x0fffe000), op.v128And,
    op.get(T), op.v128I32x4(0x80000000), op.v128And, op.v128Or,
  ];
  return l2 ? [...bits, op.v128I32x4(f32Bits(2 ** 112)), op.f32x4Mul] : bits;
}

function queryQuad(k: number, base: number): number[][] {
  return [op.get(base), op.get(QI), op.i32Add, op.v128Load(16 * k)];
}

function accumulate(enc: Encoding, k: number, l2: boolean): number[][] {
  const item = decodeQuad(enc, k, l2);
  let term: number[][];
  if (!l2) term = [...queryQuad(k, Q), ...item, op.f32x4Mul];
  else if (enc === 'f16') term = [...queryQuad(k, Q), ...item, op.f32x4Sub, op.tee(D), op.get(D), op.f32x4Mul];
  else term = [...queryQuad(k, Q), ...queryQuad(k, SB), ...item, op.f32x4Mul, op.f32x4Sub, op.tee(D), op.get(D), op.f32x4Mul];
  return [op.get(ACC + k), ...term, op.f32x4Add, op.set(ACC + k)];
}

/** Loads 16 SQ8 codes at x + ci, widened to i16x8: components 0-7 into lo, 8-15 into hi. */
const SQ8_LOAD = [op.get(X), op.get(CI), op.i32Add, op.v128Load(), op.tee(HI), op.i16x8ExtendLowU8, op.set(LO), op.get(HI), op.i16x8ExtendHighU8, op.set(HI)];

/** Leaves the sum of the four f32 lanes of ACC on the stack. */
const SUM_ACC_LANES = [
  op.get(ACC), op.f32x4Lane(0), op.get(ACC), op.f32x4Lane(1), op.f32Add,
  op.get(ACC), op.f32x4Lane(2), op.get(ACC), op.f32x4Lane(3), op.f32Add, op.f32Add,
];

/**
 * A one-pair kernel (q, x, nbytes) -> f32: `prologue`, then per iteration `step` over the
 * codes at x + ci and the query at q + qi, advancing ci by codeStep and qi by queryStep bytes
 * until ci reaches nbytes, then `epilogue` leaves the result.
 */
function rowKernel(name: string, prologue: number[][], step: number[][], codeStep: number, queryStep: number, epilogue: number[][]): FuncDef {
  return {
    name,
    params: [I32, I32, I32],
    results: [F32],
    locals: [I32, I32, V128, V128, V128, V128, V128, V128, V128, V128, I32],
    body: [
      ...prologue,
      op.block, op.loop,
      op.get(CI), op.get(N), op.i32GeU, op.brIf(1),
      ...step,
      op.get(CI), op.i32(codeStep), op.i32Add, op.set(CI),
      op.get(QI), op.i32(queryStep), op.i32Add, op.set(QI),
      op.br(0), op.end, op.end,
      ...epilogue,
    ],
  };
}

/** SQ8 ip: sum over the row of i16 query r_d times u8 code c_d, in i32, returned as f32. */
function sq8IpKernel(name: string): FuncDef {
  const term = (acc: number, half: number, offset: number) => [
    op.get(acc), op.get(half), op.get(Q), op.get(QI), op.i32Add, op.v128Load(offset), op.i32x4DotI16x8S, op.i32x4Add, op.set(acc),
  ];
  return rowKernel(name, [], [...SQ8_LOAD, ...term(ACC, LO, 0), ...term(ACC + 1, HI, 16)], 16, 32, [
    // Each i32 lane is bounded (see scalar-codec.ts); their sum is not, so it is taken in f32.
    op.get(ACC), op.get(ACC + 1), op.i32x4Add, op.f32x4ConvertI32x4S, op.set(ACC),
    ...SUM_ACC_LANES,
  ]);
}

function oneKernel(name: string, enc: Encoding, l2: boolean): FuncDef {
  if (enc === 'sq8' && !l2) return sq8IpKernel(name);
  const load = enc === 'sq8'
    ? SQ8_LOAD
    : [op.get(X), op.get(CI), op.i32Add, op.v128Load(), op.set(LO), op.get(X), op.get(CI), op.i32Add, op.v128Load(16), op.set(HI)];
  const accumulateAll = [0, 1, 2, 3].flatMap((k) => accumulate(enc, k, l2));
  return rowKernel(name, [op.get(Q), op.get(N), op.i32(2), op.i32Shl, op.i32Add, op.set(SB)], [...load, ...accumulateAll], enc === 'sq8' ? 16 : 32, 64, [
    op.get(ACC), op.get(ACC + 1), op.f32x4Add, op.get(ACC + 2), op.get(ACC + 3), op.f32x4Add, op.f32x4Add, op.set(ACC),
    ...SUM_ACC_LANES,
  ]);
}

/** The scalar kernels, for a module in which they start at function index `base`. */
export function scalarKernels(base: number): FuncDef[] {
  const kinds: [string, Encoding, boolean][] = [['f16L2', 'f16', true], ['f16Ip', 'f16', false], ['sq8L2', 'sq8', true], ['sq8Ip', 'sq8', false]];
  return [
    ...kinds.map(([name, enc, l2]) => oneKernel(name, enc, l2)),
    ...kinds.map(([name], i) => gatherKernel(`${name}Gather`, base + i)),
    ...kinds.map(([name], i) => stridedPairsKernel(`${name}Pairs`, base + i)),
  ];
}
