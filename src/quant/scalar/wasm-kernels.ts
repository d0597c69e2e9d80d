import { F32, type FuncDef, f32Bits, I32, op, V128 } from '../wasm/encoder.js';
import { GROUP_ROWS, gatherKernel, pairsKernel } from '../wasm/loops.js';

/**
 * WebAssembly SIMD kernels for scalar-quantized rows (f16 and SQ8). Rows are padded to a
 * multiple of 16 components (zeros in both item and query, which add nothing), so the loop
 * has no scalar tail: one iteration decodes 16 components into four f32x4 and accumulates
 * against the prepared query (f32, 16-byte aligned).
 *
 * f16 decode without a float16 instruction: sign-extend each half to i32; then
 *   bits = (h << 13) & 0x8fffe000
 * is the f32 whose value is half * 2^-112 (exponent and mantissa land in place, the exponent
 * bias differs by 112; the sign extension puts the sign in bit 31, and the mask clears the
 * copies of it in bits 28-30). Halves are stored without subnormals (see half.ts), so these are
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
 *   ...Group (q, x_0 .. x_3, nbytes, out, valid), ...PairGroup (q_0 .. q_3, x_0 .. x_3, nbytes, out, valid)
 *   ...Gather (q, base, nbytes, ids, count, out), ...Pairs (qbase, qstride, base, nbytes, slots, ids, count, out)
 * The loops (loops.ts) score four rows per group call; every kernel sums a row in one order
 * (one accumulator per row), so a row's distance does not depend on how it was asked for.
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

type Encoding = 'f16' | 'sq8';

/** Local indices of one kernel (see rowsKernel). */
interface Locals {
  q(r: number): number;
  x(r: number): number;
  /** sq8 l2: the query's per-dimension scales, 4 * nbytes after the query. */
  sb(r: number): number;
  acc(r: number): number;
  /** Shared-query groups: locals holding this step's query quads (and SQ8 l2 scale quads), or null (loaded per row). */
  qv: number | null;
  ci: number;
  qi: number;
  lo: number;
  hi: number;
  d: number;
}

/** Loads the 16 components at x + ci: f16 as i16x8 lo and hi; SQ8 widened to i16x8 (0-7 in lo, 8-15 in hi). */
function loadCodes(enc: Encoding, l: Locals, r: number): number[][] {
  const at = [op.get(l.x(r)), op.get(l.ci), op.i32Add];
  if (enc === 'f16') return [...at, op.v128Load(), op.set(l.lo), ...at, op.v128Load(16), op.set(l.hi)];
  return [...at, op.v128Load(), op.tee(l.hi), op.i16x8ExtendLowU8, op.set(l.lo), op.get(l.hi), op.i16x8ExtendHighU8, op.set(l.hi)];
}

/** Pushes the f32x4 of components 4k..4k+3 of the current 16. */
function decodeQuad(enc: Encoding, l: Locals, k: number, l2: boolean): number[][] {
  const half = op.get(k < 2 ? l.lo : l.hi);
  // Codes are 0-255: the signed conversion gives the same floats, and x86 has an instruction for
  // it (the unsigned one is a sequence of several without AVX-512).
  if (enc === 'sq8') return [half, k % 2 === 0 ? op.i32x4ExtendLowU16 : op.i32x4ExtendHighU16, op.f32x4ConvertI32x4S];
  const bits = [half, k % 2 === 0 ? op.i32x4ExtendLowS16 : op.i32x4ExtendHighS16, op.i32(13), op.i32x4Shl, op.v128I32x4(0x8fffe000 | 0), op.v128And];
  return l2 ? [...bits, op.v128I32x4(f32Bits(2 ** 112)), op.f32x4Mul] : bits;
}

/** Quad k of row r's query, or with `scales` of its SQ8 l2 scales: preloaded for a shared-query group, else loaded. */
function queryQuad(l: Locals, r: number, k: number, scales = false): number[][] {
  if (l.qv !== null) return [op.get(l.qv + k + (scales ? 4 : 0))];
  return [op.get(scales ? l.sb(r) : l.q(r)), op.get(l.qi), op.i32Add, op.v128Load(16 * k)];
}

/** Loads the step's query quads once for every row of a shared-query group. */
function preloadQuery(enc: Encoding, l: Locals, l2: boolean): number[][] {
  if (l.qv === null) return [];
  const out: number[][] = [];
  const quads = enc === 'sq8' && !l2 ? 2 : 4;
  for (let k = 0; k < quads; k++) out.push(op.get(l.q(0)), op.get(l.qi), op.i32Add, op.v128Load(16 * k), op.set(l.qv + k));
  if (enc === 'sq8' && l2) for (let k = 0; k < 4; k++) out.push(op.get(l.sb(0)), op.get(l.qi), op.i32Add, op.v128Load(16 * k), op.set(l.qv + 4 + k));
  return out;
}

/** One loop step of row r: acc_r += its terms for 16 components. */
function rowStep(enc: Encoding, l: Locals, r: number, l2: boolean): number[][] {
  const acc = l.acc(r);
  const out = loadCodes(enc, l, r);
  if (enc === 'sq8' && !l2) {
    // i16 query times widened codes, summed in i32 (exact, so any order gives the same sum).
    for (const [half, offset] of [[l.lo, 0], [l.hi, 16]] as const) {
      const query = l.qv !== null ? [op.get(l.qv + offset / 16)] : [op.get(l.q(r)), op.get(l.qi), op.i32Add, op.v128Load(offset)];
      out.push(op.get(acc), op.get(half), ...query, op.i32x4DotI16x8S, op.i32x4Add, op.set(acc));
    }
    return out;
  }
  for (let k = 0; k < 4; k++) {
    const item = decodeQuad(enc, l, k, l2);
    let term: number[][];
    if (!l2) term = [...queryQuad(l, r, k), ...item, op.f32x4Mul];
    else if (enc === 'f16') term = [...queryQuad(l, r, k), ...item, op.f32x4Sub, op.tee(l.d), op.get(l.d), op.f32x4Mul];
    else term = [...queryQuad(l, r, k), ...queryQuad(l, r, k, true), ...item, op.f32x4Mul, op.f32x4Sub, op.tee(l.d), op.get(l.d), op.f32x4Mul];
    out.push(op.get(acc), ...term, op.f32x4Add, op.set(acc));
  }
  return out;
}

/**
 * A kernel over `rows` rows (1: returns the raw sum; more: stores out[r] for r < valid) with one query
 * (`sharedQuery`) or one per row. One accumulator per row, its lanes summed as
 * (l0 + l1) + (l2 + l3): the row kernel and the group kernels give a row the same bits.
 */
function rowsKernel(name: string, enc: Encoding, l2: boolean, rows: number, sharedQuery: boolean): FuncDef {
  const R = rows;
  const nq = sharedQuery ? 1 : R;
  const N = nq + R, OUT = N + 1, VALID = N + 2;
  const CI = R > 1 ? N + 3 : N + 1, QI = CI + 1, SB = QI + 1, LO = SB + nq, HI = LO + 1, D = HI + 1, ACC = D + 1;
  const l: Locals = {
    q: (r) => (sharedQuery ? 0 : r), x: (r) => nq + r, sb: (r) => SB + (sharedQuery ? 0 : r), acc: (r) => ACC + r,
    qv: sharedQuery && R > 1 ? ACC + R : null,
    ci: CI, qi: QI, lo: LO, hi: HI, d: D,
  };
  const intDot = enc === 'sq8' && !l2;
  const body: number[][] = [];
  if (enc === 'sq8' && l2) for (let r = 0; r < nq; r++) body.push(op.get(l.q(r)), op.get(N), op.i32(2), op.i32Shl, op.i32Add, op.set(l.sb(r)));
  body.push(op.block, op.loop, op.get(CI), op.get(N), op.i32GeU, op.brIf(1));
  body.push(...preloadQuery(enc, l, l2));
  for (let r = 0; r < R; r++) body.push(...rowStep(enc, l, r, l2));
  body.push(
    op.get(CI), op.i32(enc === 'sq8' ? 16 : 32), op.i32Add, op.set(CI),
    op.get(QI), op.i32(intDot ? 32 : 64), op.i32Add, op.set(QI),
    op.br(0), op.end, op.end,
  );
  for (let r = 0; r < R; r++) {
    const a = l.acc(r);
    // Each i32 lane of the SQ8 ip sum is bounded (see scalar-codec.ts); their sum is not, so it is taken in f32.
    if (intDot) body.push(op.get(a), op.f32x4ConvertI32x4S, op.set(a));
    if (R > 1) body.push(op.i32(r), op.get(VALID), op.i32LtU, op.if, op.get(OUT));
    body.push(
      op.get(a), op.f32x4Lane(0), op.get(a), op.f32x4Lane(1), op.f32Add,
      op.get(a), op.f32x4Lane(2), op.get(a), op.f32x4Lane(3), op.f32Add, op.f32Add,
    );
    if (R > 1) body.push(op.f32Store(4 * r), op.end);
  }
  return {
    name,
    params: new Array<number>(N + (R > 1 ? 3 : 1)).fill(I32),
    results: R > 1 ? [] : [F32],
    locals: [I32, I32, ...new Array<number>(nq).fill(I32), ...new Array<number>(3 + R + (l.qv !== null ? 8 : 0)).fill(V128)],
    body,
  };
}

/** The scalar kernels, for a module in which they start at function index `base`. */
export function scalarKernels(base: number): FuncDef[] {
  const kinds: [string, Encoding, boolean][] = [['f16L2', 'f16', true], ['f16Ip', 'f16', false], ['sq8L2', 'sq8', true], ['sq8Ip', 'sq8', false]];
  const k = kinds.length;
  // Layout from base: the row kernels, the shared-query groups, the per-row-query groups, then the loops.
  return [
    ...kinds.map(([name, enc, l2]) => rowsKernel(name, enc, l2, 1, true)),
    ...kinds.map(([name, enc, l2]) => rowsKernel(`${name}Group`, enc, l2, GROUP_ROWS, true)),
    ...kinds.map(([name, enc, l2]) => rowsKernel(`${name}PairGroup`, enc, l2, GROUP_ROWS, false)),
    ...kinds.map(([name], i) => gatherKernel(`${name}Gather`, base + k + i, base + i)),
    ...kinds.map(([name], i) => pairsKernel(`${name}Pairs`, base + 2 * k + i, base + i)),
  ];
}
