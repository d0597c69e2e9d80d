import { F32, type FuncDef, I32, op, V128 } from '../wasm/encoder.js';
import { GROUP_ROWS, touchRows } from '../wasm/loops.js';

/**
 * WebAssembly kernels for product quantization.
 *
 *   pqLutIp / pqLutL2(q, cbT, m, dsub, lut): the m x 256 lookup table of one query. The
 *     codebooks are stored transposed, [subspace][component][centroid], so four centroids
 *     are processed per f32x4 with no horizontal sums. ip writes the negated inner product.
 *   pqAdc(lut, codes, m, ids, count, out): out[i] = sum_j lut[j][codes[ids[i]][j]].
 *   pqAdcPairs(luts, lutBytes, codes, m, slots, ids, count, out): the same with one table per
 *     query slot (luts + slots[i] * lutBytes): a whole batch round in one call.
 * The ADC loops sum GROUP_ROWS items at a time, each in its own chain: one item's sum is a
 * chain of m dependent additions (latency-bound), four of them interleaved keep the CPU busy.
 * Each sum still adds its terms in subspace order, so the results do not change.
 */

function lutKernel(name: string, l2: boolean): FuncDef {
  // params: 0 q, 1 cbT, 2 m, 3 dsub, 4 lut; locals: 5 j, 6 c, 7 t, 8 acc, 9 qrow, 10 cbrow, 11 d, 12 lutrow
  const Q = 0, CB = 1, M = 2, DS = 3, LUT = 4, J = 5, C = 6, T = 7, ACC = 8, QROW = 9, CBROW = 10, D = 11, LROW = 12;
  const term = l2
    ? [op.get(ACC), op.get(QROW), op.get(T), op.i32(2), op.i32Shl, op.i32Add, op.f32Load(), op.f32x4Splat,
       op.get(CBROW), op.get(T), op.i32(10), op.i32Shl, op.i32Add, op.get(C), op.i32Add, op.v128Load(),
       op.f32x4Sub, op.tee(D), op.get(D), op.f32x4Mul, op.f32x4Add, op.set(ACC)]
    : [op.get(ACC), op.get(QROW), op.get(T), op.i32(2), op.i32Shl, op.i32Add, op.f32Load(), op.f32x4Splat,
       op.get(CBROW), op.get(T), op.i32(10), op.i32Shl, op.i32Add, op.get(C), op.i32Add, op.v128Load(),
       op.f32x4Mul, op.f32x4Add, op.set(ACC)];
  return {
    name,
    params: [I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, I32, V128, I32, I32, V128, I32],
    body: [
      op.get(Q), op.set(QROW), op.get(CB), op.set(CBROW), op.get(LUT), op.set(LROW),
      op.block, op.loop,
      op.get(J), op.get(M), op.i32GeU, op.brIf(1),
      op.i32(0), op.set(C),
      op.block, op.loop,
      op.get(C), op.i32(1024), op.i32GeU, op.brIf(1),
      op.v128Zero, op.set(ACC),
      op.i32(0), op.set(T),
      op.block, op.loop,
      op.get(T), op.get(DS), op.i32GeU, op.brIf(1),
      ...term,
      op.get(T), op.i32(1), op.i32Add, op.set(T),
      op.br(0), op.end, op.end,
      op.get(LROW), op.get(C), op.i32Add, op.get(ACC), ...(l2 ? [] : [op.f32x4Neg]), op.v128Store(),
      op.get(C), op.i32(16), op.i32Add, op.set(C),
      op.br(0), op.end, op.end,
      op.get(QROW), op.get(DS), op.i32(2), op.i32Shl, op.i32Add, op.set(QROW),
      op.get(CBROW), op.get(DS), op.i32(10), op.i32Shl, op.i32Add, op.set(CBROW),
      op.get(LROW), op.i32(1024), op.i32Add, op.set(LROW),
      op.get(J), op.i32(1), op.i32Add, op.set(J),
      op.br(0), op.end, op.end,
    ],
  };
}

/** Body of one ADC sum: s = sum_j f32[lp + codes[cp + j] * 4], lp advancing 1024 bytes a subspace. */
function adcSum(M: number, CP: number, J: number, S: number, LP: number): number[][] {
  return [
    op.f32Const0, op.set(S), op.i32(0), op.set(J),
    op.block, op.loop,
    op.get(J), op.get(M), op.i32GeU, op.brIf(1),
    op.get(S), op.get(LP), op.get(CP), op.get(J), op.i32Add, op.i32Load8u(), op.i32(2), op.i32Shl, op.i32Add, op.f32Load(), op.f32Add, op.set(S),
    op.get(LP), op.i32(1024), op.i32Add, op.set(LP),
    op.get(J), op.i32(1), op.i32Add, op.set(J),
    op.br(0), op.end, op.end,
  ];
}

/**
 * ADC sums of GROUP_ROWS items at once: s_r = sum_j f32[lp_r + codes[cp_r + j] * 4], each
 * lp_r advancing 1024 bytes a subspace (`lps` has one local when the items share a table).
 */
function adcGroupSums(M: number, cps: number[], J: number, ss: number[], lps: number[]): number[][] {
  const body: number[][] = [];
  for (const sLocal of ss) body.push(op.f32Const0, op.set(sLocal));
  body.push(op.i32(0), op.set(J), op.block, op.loop, op.get(J), op.get(M), op.i32GeU, op.brIf(1));
  ss.forEach((sLocal, r) => {
    const lp = lps[Math.min(r, lps.length - 1)]!;
    body.push(op.get(sLocal), op.get(lp), op.get(cps[r]!), op.get(J), op.i32Add, op.i32Load8u(), op.i32(2), op.i32Shl, op.i32Add, op.f32Load(), op.f32Add, op.set(sLocal));
  });
  for (const lp of lps) body.push(op.get(lp), op.i32(1024), op.i32Add, op.set(lp));
  body.push(op.get(J), op.i32(1), op.i32Add, op.set(J), op.br(0), op.end, op.end);
  return body;
}

/** Locals from `first`: GROUP_ROWS code pointers, then GROUP_ROWS f32 sums, then `tables` table pointers. */
function groupLocals(first: number, tables: number): { cps: number[]; ss: number[]; lps: number[]; types: number[] } {
  const R = GROUP_ROWS;
  const cps = Array.from({ length: R }, (_, r) => first + r);
  const ss = Array.from({ length: R }, (_, r) => first + R + r);
  const lps = Array.from({ length: tables }, (_, r) => first + 2 * R + r);
  return { cps, ss, lps, types: [...new Array<number>(R).fill(I32), ...new Array<number>(R).fill(F32), ...new Array<number>(tables).fill(I32)] };
}

function adcKernel(): FuncDef {
  // params: 0 lut, 1 codes, 2 m, 3 ids, 4 count, 5 out; locals: 6 i, 7 cp, 8 j, 9 s(f32), 10 lp, then the group's
  const I = 6, CP = 7, J = 8, S = 9, LP = 10;
  const g = groupLocals(11, 1);
  const codesOf = (r: number) => [op.get(1), op.get(3), op.get(I), op.i32(2), op.i32Shl, op.i32Add, op.i32Load(4 * r), op.get(2), op.i32Mul, op.i32Add];
  const group: number[][] = [
    op.block, op.loop,
    op.get(I), op.i32(GROUP_ROWS - 1), op.i32Add, op.get(4), op.i32GeU, op.brIf(1),
  ];
  g.cps.forEach((cp, r) => group.push(...codesOf(r), op.set(cp)));
  group.push(op.get(0), op.set(g.lps[0]!), ...adcGroupSums(2, g.cps, J, g.ss, g.lps));
  g.ss.forEach((sLocal, r) => group.push(op.get(5), op.get(I), op.i32(2), op.i32Shl, op.i32Add, op.get(sLocal), op.f32Store(4 * r)));
  group.push(op.get(I), op.i32(GROUP_ROWS), op.i32Add, op.set(I), op.br(0), op.end, op.end);
  return {
    name: 'pqAdc',
    params: [I32, I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, I32, F32, I32, ...g.types],
    body: [
      ...touchRows({ base: 1, rowBytes: 2, ids: 3, count: 4, out: 5, j: I }),
      ...group,
      op.block, op.loop,
      op.get(I), op.get(4), op.i32GeU, op.brIf(1),
      op.get(1), op.get(3), op.get(I), op.i32(2), op.i32Shl, op.i32Add, op.i32Load(), op.get(2), op.i32Mul, op.i32Add, op.set(CP),
      op.get(0), op.set(LP),
      ...adcSum(2, CP, J, S, LP),
      op.get(5), op.get(I), op.i32(2), op.i32Shl, op.i32Add, op.get(S), op.f32Store(),
      op.get(I), op.i32(1), op.i32Add, op.set(I),
      op.br(0), op.end, op.end,
    ],
  };
}

function adcPairsKernel(): FuncDef {
  // params: 0 luts, 1 lutBytes, 2 codes, 3 m, 4 slots, 5 ids, 6 count, 7 out
  // locals: 8 i, 9 cp, 10 j, 11 s(f32), 12 lp, 13 i*4, then the group's
  const I = 8, CP = 9, J = 10, S = 11, LP = 12, I4 = 13;
  const g = groupLocals(14, GROUP_ROWS);
  const entry = (list: number, base: number, stride: number, r: number) => [op.get(base), op.get(list), op.get(I), op.i32(2), op.i32Shl, op.i32Add, op.i32Load(4 * r), op.get(stride), op.i32Mul, op.i32Add];
  const group: number[][] = [
    op.block, op.loop,
    op.get(I), op.i32(GROUP_ROWS - 1), op.i32Add, op.get(6), op.i32GeU, op.brIf(1),
  ];
  for (let r = 0; r < GROUP_ROWS; r++) group.push(...entry(5, 2, 3, r), op.set(g.cps[r]!), ...entry(4, 0, 1, r), op.set(g.lps[r]!));
  group.push(...adcGroupSums(3, g.cps, J, g.ss, g.lps));
  g.ss.forEach((sLocal, r) => group.push(op.get(7), op.get(I), op.i32(2), op.i32Shl, op.i32Add, op.get(sLocal), op.f32Store(4 * r)));
  group.push(op.get(I), op.i32(GROUP_ROWS), op.i32Add, op.set(I), op.br(0), op.end, op.end);
  return {
    name: 'pqAdcPairs',
    params: [I32, I32, I32, I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, I32, F32, I32, I32, ...g.types],
    body: [
      ...touchRows({ base: 2, rowBytes: 3, ids: 5, count: 6, out: 7, j: I }),
      ...group,
      op.block, op.loop,
      op.get(I), op.get(6), op.i32GeU, op.brIf(1),
      op.get(I), op.i32(2), op.i32Shl, op.set(I4),
      op.get(2), op.get(5), op.get(I4), op.i32Add, op.i32Load(), op.get(3), op.i32Mul, op.i32Add, op.set(CP),
      op.get(0), op.get(4), op.get(I4), op.i32Add, op.i32Load(), op.get(1), op.i32Mul, op.i32Add, op.set(LP),
      ...adcSum(3, CP, J, S, LP),
      op.get(7), op.get(I4), op.i32Add, op.get(S), op.f32Store(),
      op.get(I), op.i32(1), op.i32Add, op.set(I),
      op.br(0), op.end, op.end,
    ],
  };
}

/**
 * The table kernel specialised for 8-d subspaces (768/96, 784/98: the common case): the eight
 * query components are splatted once per subspace and kept in registers, and the eight
 * codebook rows are read at fixed offsets, so each 4 centroids cost 8 loads and 8 fused steps.
 */
function lut8Kernel(name: string, l2: boolean): FuncDef {
  // params: 0 q, 1 cbT, 2 m, 3 dsub (unused), 4 lut; locals: 5 j, 6 c, 7 acc, 8 qrow, 9 cbrow,
  // 10 lutrow, 11..18 the splatted query components, 19 d
  const Q = 0, CB = 1, M = 2, LUT = 4, J = 5, C = 6, ACC = 7, QROW = 8, CBROW = 9, LROW = 10, QS = 11, D = 19;
  const splats: number[][] = [];
  for (let t = 0; t < 8; t++) splats.push([...op.get(QROW), ...op.f32Load(4 * t), ...op.f32x4Splat, ...op.set(QS + t)]);
  const terms: number[][] = [];
  for (let t = 0; t < 8; t++) {
    const load = [...op.get(CBROW), ...op.get(C), ...op.i32Add, ...op.v128Load(1024 * t)];
    terms.push(l2
      ? [...op.get(ACC), ...op.get(QS + t), ...load, ...op.f32x4Sub, ...op.tee(D), ...op.get(D), ...op.f32x4Mul, ...op.f32x4Add, ...op.set(ACC)]
      : [...op.get(ACC), ...op.get(QS + t), ...load, ...op.f32x4Mul, ...op.f32x4Add, ...op.set(ACC)]);
  }
  return {
    name,
    params: [I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, V128, I32, I32, I32, V128, V128, V128, V128, V128, V128, V128, V128, V128],
    body: [
      op.get(Q), op.set(QROW), op.get(CB), op.set(CBROW), op.get(LUT), op.set(LROW),
      op.block, op.loop,
      op.get(J), op.get(M), op.i32GeU, op.brIf(1),
      ...splats,
      op.i32(0), op.set(C),
      op.block, op.loop,
      op.get(C), op.i32(1024), op.i32GeU, op.brIf(1),
      op.v128Zero, op.set(ACC),
      ...terms,
      op.get(LROW), op.get(C), op.i32Add, op.get(ACC), ...(l2 ? [] : [op.f32x4Neg]), op.v128Store(),
      op.get(C), op.i32(16), op.i32Add, op.set(C),
      op.br(0), op.end, op.end,
      op.get(QROW), op.i32(32), op.i32Add, op.set(QROW),
      op.get(CBROW), op.i32(8 * 1024), op.i32Add, op.set(CBROW),
      op.get(LROW), op.i32(1024), op.i32Add, op.set(LROW),
      op.get(J), op.i32(1), op.i32Add, op.set(J),
      op.br(0), op.end, op.end,
    ],
  };
}

export const PQ_KERNELS: FuncDef[] = [
  lutKernel('pqLutIp', false), lutKernel('pqLutL2', true), adcKernel(), adcPairsKernel(),
  lut8Kernel('pqLut8Ip', false), lut8Kernel('pqLut8L2', true),
];

export interface PqWasmKernels {
  pqLutIp(q: number, cbT: number, m: number, dsub: number, lut: number): void;
  pqLutL2(q: number, cbT: number, m: number, dsub: number, lut: number): void;
  pqLut8Ip(q: number, cbT: number, m: number, dsub: number, lut: number): void;
  pqLut8L2(q: number, cbT: number, m: number, dsub: number, lut: number): void;
  pqAdc(lut: number, codes: number, m: number, ids: number, count: number, out: number): void;
  pqAdcPairs(luts: number, lutBytes: number, codes: number, m: number, slots: number, ids: number, count: number, out: number): void;
}
