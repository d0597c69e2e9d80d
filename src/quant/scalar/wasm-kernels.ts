import { F32, f32Bits, I32, op, V128 } from '../wasm/encoder.js';
import { type KernelExports, kernel, type Run, times } from '../wasm/kernel.js';
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
type Encoding = 'f16' | 'sq8';

/** Local indices of one kernel (see rowsBody): the params (a shared query is q(0) for every row), then the locals. */
interface Locals {
  rows: number;
  /** Queries: 1 (shared) or one per row. */
  nq: number;
  q: Run;
  x: Run;
  nbytes: number;
  /** Group kernels: where the rows' distances go, and how many rows are real (null: return the one row's). */
  group: { out: number; valid: number } | null;
  /** sq8 l2: the query's per-dimension scales, 4 * nbytes after the query. */
  sb: Run;
  acc: Run;
  /** Shared-query groups: locals holding this step's query quads (and SQ8 l2 scale quads), or null (loaded per row). */
  qv: Run | null;
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
  if (l.qv !== null) return [op.get(l.qv(k + (scales ? 4 : 0)))];
  return [op.get(scales ? l.sb(r) : l.q(r)), op.get(l.qi), op.i32Add, op.v128Load(16 * k)];
}

/** Loads the step's query quads once for every row of a shared-query group. */
function preloadQuery(enc: Encoding, l: Locals, l2: boolean): number[][] {
  if (l.qv === null) return [];
  const out: number[][] = [];
  const quads = enc === 'sq8' && !l2 ? 2 : 4;
  for (let k = 0; k < quads; k++) out.push(op.get(l.q(0)), op.get(l.qi), op.i32Add, op.v128Load(16 * k), op.set(l.qv(k)));
  if (enc === 'sq8' && l2) for (let k = 0; k < 4; k++) out.push(op.get(l.sb(0)), op.get(l.qi), op.i32Add, op.v128Load(16 * k), op.set(l.qv(4 + k)));
  return out;
}

/** One loop step of row r: acc_r += its terms for 16 components. */
function rowStep(enc: Encoding, l: Locals, r: number, l2: boolean): number[][] {
  const acc = l.acc(r);
  const out = loadCodes(enc, l, r);
  if (enc === 'sq8' && !l2) {
    // i16 query times widened codes, summed in i32 (exact, so any order gives the same sum).
    for (const [half, offset] of [[l.lo, 0], [l.hi, 16]] as const) {
      const query = l.qv !== null ? [op.get(l.qv(offset / 16))] : [op.get(l.q(r)), op.get(l.qi), op.i32Add, op.v128Load(offset)];
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
 * or one per row. One accumulator per row, its lanes summed as (l0 + l1) + (l2 + l3): the row
 * kernel and the group kernels give a row the same bits.
 */
function rowsBody(enc: Encoding, l2: boolean, l: Locals): number[][] {
  const R = l.rows;
  const intDot = enc === 'sq8' && !l2;
  const body: number[][] = [];
  if (enc === 'sq8' && l2) for (let r = 0; r < l.nq; r++) body.push(op.get(l.q(r)), op.get(l.nbytes), op.i32(2), op.i32Shl, op.i32Add, op.set(l.sb(r)));
  body.push(op.block, op.loop, op.get(l.ci), op.get(l.nbytes), op.i32GeU, op.brIf(1));
  body.push(...preloadQuery(enc, l, l2));
  for (let r = 0; r < R; r++) body.push(...rowStep(enc, l, r, l2));
  body.push(
    op.get(l.ci), op.i32(enc === 'sq8' ? 16 : 32), op.i32Add, op.set(l.ci),
    op.get(l.qi), op.i32(intDot ? 32 : 64), op.i32Add, op.set(l.qi),
    op.br(0), op.end, op.end,
  );
  for (let r = 0; r < R; r++) {
    const a = l.acc(r);
    // Each i32 lane of the SQ8 ip sum is bounded (see scalar-encoding.ts); their sum is not, so it is taken in f32.
    if (intDot) body.push(op.get(a), op.f32x4ConvertI32x4S, op.set(a));
    if (l.group !== null) body.push(op.i32(r), op.get(l.group.valid), op.i32LtU, op.if, op.get(l.group.out));
    body.push(
      op.get(a), op.f32x4Lane(0), op.get(a), op.f32x4Lane(1), op.f32Add,
      op.get(a), op.f32x4Lane(2), op.get(a), op.f32x4Lane(3), op.f32Add, op.f32Add,
    );
    if (l.group !== null) body.push(op.f32Store(4 * r), op.end);
  }
  return body;
}

/** A kernel's locals: `nq` scale pointers, one accumulator per row, and a shared-query group's eight preloaded quads. */
const rowsLocals = (rows: number, nq: number, preload: boolean) => ({
  ci: I32, qi: I32, sb: times(nq, I32), lo: V128, hi: V128, d: V128, acc: times(rows, V128), qv: times(preload ? 8 : 0, V128),
});

/** A query's distance to one row (the raw sum; see the top of the file for what the caller adds). */
function rowKernel<N extends string>(name: N, enc: Encoding, l2: boolean) {
  return kernel({
    name,
    params: ['q', 'x', 'nbytes'],
    results: [F32],
    locals: rowsLocals(1, 1, false),
    body: (v) => rowsBody(enc, l2, { ...v, rows: 1, nq: 1, q: () => v.q, x: () => v.x, group: null, qv: null }),
  });
}

/** GROUP_ROWS rows with one query (`sharedQuery`) or one per row, stored to out. */
function groupKernel<N extends string>(name: N, enc: Encoding, l2: boolean, sharedQuery: boolean) {
  const nq = sharedQuery ? 1 : GROUP_ROWS;
  return kernel({
    name,
    params: [['q', nq], ['x', GROUP_ROWS], 'nbytes', 'out', 'valid'],
    results: [],
    locals: rowsLocals(GROUP_ROWS, nq, sharedQuery),
    body: (v) =>
      rowsBody(enc, l2, {
        ...v, rows: GROUP_ROWS, nq, q: (r) => v.q(sharedQuery ? 0 : r), sb: (r) => v.sb(sharedQuery ? 0 : r),
        group: { out: v.out, valid: v.valid }, qv: sharedQuery ? v.qv : null,
      }),
  });
}

/** One kind's kernels: the row kernel, the two groups and the loops over them (calls by name). */
function family<K extends string>(kind: K, enc: Encoding, l2: boolean) {
  return {
    row: rowKernel(kind, enc, l2),
    group: groupKernel(`${kind}Group`, enc, l2, true),
    pairGroup: groupKernel(`${kind}PairGroup`, enc, l2, false),
    gather: gatherKernel(`${kind}Gather`, `${kind}Group`, kind),
    pairs: pairsKernel(`${kind}Pairs`, `${kind}PairGroup`, kind),
  };
}

const FAMILIES = [family('f16L2', 'f16', true), family('f16Ip', 'f16', false), family('sq8L2', 'sq8', true), family('sq8Ip', 'sq8', false)];

/** The scalar kernels: the row kernels, the shared-query groups, the per-row-query groups, then the loops. */
export const SCALAR_KERNELS = [
  ...FAMILIES.map((f) => f.row),
  ...FAMILIES.map((f) => f.group),
  ...FAMILIES.map((f) => f.pairGroup),
  ...FAMILIES.map((f) => f.gather),
  ...FAMILIES.map((f) => f.pairs),
];

export type ScalarWasmKernels = KernelExports<typeof SCALAR_KERNELS>;
