import { F32, I32, op, V128 } from '../wasm/encoder.js';
import { type KernelExports, kernel, type Run, times } from '../wasm/kernel.js';
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

function lutKernel<N extends string>(name: N, l2: boolean) {
  return kernel({
    name,
    params: ['q', 'cbT', 'm', 'dsub', 'lut'],
    results: [],
    locals: { j: I32, c: I32, t: I32, acc: V128, qrow: I32, cbrow: I32, d: V128, lutrow: I32 },
    body: (v) => {
      const term = l2
        ? [op.get(v.acc), op.get(v.qrow), op.get(v.t), op.i32(2), op.i32Shl, op.i32Add, op.f32Load(), op.f32x4Splat,
           op.get(v.cbrow), op.get(v.t), op.i32(10), op.i32Shl, op.i32Add, op.get(v.c), op.i32Add, op.v128Load(),
           op.f32x4Sub, op.tee(v.d), op.get(v.d), op.f32x4Mul, op.f32x4Add, op.set(v.acc)]
        : [op.get(v.acc), op.get(v.qrow), op.get(v.t), op.i32(2), op.i32Shl, op.i32Add, op.f32Load(), op.f32x4Splat,
           op.get(v.cbrow), op.get(v.t), op.i32(10), op.i32Shl, op.i32Add, op.get(v.c), op.i32Add, op.v128Load(),
           op.f32x4Mul, op.f32x4Add, op.set(v.acc)];
      return [
        op.get(v.q), op.set(v.qrow), op.get(v.cbT), op.set(v.cbrow), op.get(v.lut), op.set(v.lutrow),
        op.block, op.loop,
        op.get(v.j), op.get(v.m), op.i32GeU, op.brIf(1),
        op.i32(0), op.set(v.c),
        op.block, op.loop,
        op.get(v.c), op.i32(1024), op.i32GeU, op.brIf(1),
        op.v128Zero, op.set(v.acc),
        op.i32(0), op.set(v.t),
        op.block, op.loop,
        op.get(v.t), op.get(v.dsub), op.i32GeU, op.brIf(1),
        ...term,
        op.get(v.t), op.i32(1), op.i32Add, op.set(v.t),
        op.br(0), op.end, op.end,
        op.get(v.lutrow), op.get(v.c), op.i32Add, op.get(v.acc), ...(l2 ? [] : [op.f32x4Neg]), op.v128Store(),
        op.get(v.c), op.i32(16), op.i32Add, op.set(v.c),
        op.br(0), op.end, op.end,
        op.get(v.qrow), op.get(v.dsub), op.i32(2), op.i32Shl, op.i32Add, op.set(v.qrow),
        op.get(v.cbrow), op.get(v.dsub), op.i32(10), op.i32Shl, op.i32Add, op.set(v.cbrow),
        op.get(v.lutrow), op.i32(1024), op.i32Add, op.set(v.lutrow),
        op.get(v.j), op.i32(1), op.i32Add, op.set(v.j),
        op.br(0), op.end, op.end,
      ];
    },
  });
}

/** Body of one ADC sum: s = sum_j f32[lp + codes[cp + j] * 4], lp advancing 1024 bytes a subspace (arguments: local indices). */
function adcSum(m: number, cp: number, j: number, s: number, lp: number): number[][] {
  return [
    op.f32Const0, op.set(s), op.i32(0), op.set(j),
    op.block, op.loop,
    op.get(j), op.get(m), op.i32GeU, op.brIf(1),
    op.get(s), op.get(lp), op.get(cp), op.get(j), op.i32Add, op.i32Load8u(), op.i32(2), op.i32Shl, op.i32Add, op.f32Load(), op.f32Add, op.set(s),
    op.get(lp), op.i32(1024), op.i32Add, op.set(lp),
    op.get(j), op.i32(1), op.i32Add, op.set(j),
    op.br(0), op.end, op.end,
  ];
}

/**
 * ADC sums of GROUP_ROWS items at once: s_r = sum_j f32[lp_r + codes[cp_r + j] * 4], each
 * lp_r advancing 1024 bytes a subspace (`tables` is 1 when the items share a table).
 */
function adcGroupSums(m: number, cp: Run, j: number, s: Run, lp: Run, tables: number): number[][] {
  const R = GROUP_ROWS;
  const body: number[][] = [];
  for (let r = 0; r < R; r++) body.push(op.f32Const0, op.set(s(r)));
  body.push(op.i32(0), op.set(j), op.block, op.loop, op.get(j), op.get(m), op.i32GeU, op.brIf(1));
  for (let r = 0; r < R; r++) {
    body.push(op.get(s(r)), op.get(lp(Math.min(r, tables - 1))), op.get(cp(r)), op.get(j), op.i32Add, op.i32Load8u(), op.i32(2), op.i32Shl, op.i32Add, op.f32Load(), op.f32Add, op.set(s(r)));
  }
  for (let t = 0; t < tables; t++) body.push(op.get(lp(t)), op.i32(1024), op.i32Add, op.set(lp(t)));
  body.push(op.get(j), op.i32(1), op.i32Add, op.set(j), op.br(0), op.end, op.end);
  return body;
}

/** A group's locals: GROUP_ROWS code pointers, GROUP_ROWS f32 sums, then `tables` table pointers. */
const groupLocals = (tables: number) => ({ gcp: times(GROUP_ROWS, I32), gs: times(GROUP_ROWS, F32), glp: times(tables, I32) });

function adcKernel() {
  return kernel({
    name: 'pqAdc',
    params: ['lut', 'codes', 'm', 'ids', 'count', 'out'],
    results: [],
    locals: { i: I32, cp: I32, j: I32, s: F32, lp: I32, ...groupLocals(1) },
    body: (v) => {
      const codesOf = (r: number) => [op.get(v.codes), op.get(v.ids), op.get(v.i), op.i32(2), op.i32Shl, op.i32Add, op.i32Load(4 * r), op.get(v.m), op.i32Mul, op.i32Add];
      const group: number[][] = [
        op.block, op.loop,
        op.get(v.i), op.i32(GROUP_ROWS - 1), op.i32Add, op.get(v.count), op.i32GeU, op.brIf(1),
      ];
      for (let r = 0; r < GROUP_ROWS; r++) group.push(...codesOf(r), op.set(v.gcp(r)));
      group.push(op.get(v.lut), op.set(v.glp(0)), ...adcGroupSums(v.m, v.gcp, v.j, v.gs, v.glp, 1));
      for (let r = 0; r < GROUP_ROWS; r++) group.push(op.get(v.out), op.get(v.i), op.i32(2), op.i32Shl, op.i32Add, op.get(v.gs(r)), op.f32Store(4 * r));
      group.push(op.get(v.i), op.i32(GROUP_ROWS), op.i32Add, op.set(v.i), op.br(0), op.end, op.end);
      return [
        ...touchRows({ base: v.codes, rowBytes: v.m, ids: v.ids, count: v.count, out: v.out, j: v.i }),
        ...group,
        op.block, op.loop,
        op.get(v.i), op.get(v.count), op.i32GeU, op.brIf(1),
        op.get(v.codes), op.get(v.ids), op.get(v.i), op.i32(2), op.i32Shl, op.i32Add, op.i32Load(), op.get(v.m), op.i32Mul, op.i32Add, op.set(v.cp),
        op.get(v.lut), op.set(v.lp),
        ...adcSum(v.m, v.cp, v.j, v.s, v.lp),
        op.get(v.out), op.get(v.i), op.i32(2), op.i32Shl, op.i32Add, op.get(v.s), op.f32Store(),
        op.get(v.i), op.i32(1), op.i32Add, op.set(v.i),
        op.br(0), op.end, op.end,
      ];
    },
  });
}

function adcPairsKernel() {
  return kernel({
    name: 'pqAdcPairs',
    params: ['luts', 'lutBytes', 'codes', 'm', 'slots', 'ids', 'count', 'out'],
    results: [],
    // i4: i * 4, the byte offset of entry i in slots, ids and out.
    locals: { i: I32, cp: I32, j: I32, s: F32, lp: I32, i4: I32, ...groupLocals(GROUP_ROWS) },
    body: (v) => {
      const entry = (list: number, base: number, stride: number, r: number) => [op.get(base), op.get(list), op.get(v.i), op.i32(2), op.i32Shl, op.i32Add, op.i32Load(4 * r), op.get(stride), op.i32Mul, op.i32Add];
      const group: number[][] = [
        op.block, op.loop,
        op.get(v.i), op.i32(GROUP_ROWS - 1), op.i32Add, op.get(v.count), op.i32GeU, op.brIf(1),
      ];
      for (let r = 0; r < GROUP_ROWS; r++) group.push(...entry(v.ids, v.codes, v.m, r), op.set(v.gcp(r)), ...entry(v.slots, v.luts, v.lutBytes, r), op.set(v.glp(r)));
      group.push(...adcGroupSums(v.m, v.gcp, v.j, v.gs, v.glp, GROUP_ROWS));
      for (let r = 0; r < GROUP_ROWS; r++) group.push(op.get(v.out), op.get(v.i), op.i32(2), op.i32Shl, op.i32Add, op.get(v.gs(r)), op.f32Store(4 * r));
      group.push(op.get(v.i), op.i32(GROUP_ROWS), op.i32Add, op.set(v.i), op.br(0), op.end, op.end);
      return [
        ...touchRows({ base: v.codes, rowBytes: v.m, ids: v.ids, count: v.count, out: v.out, j: v.i }),
        ...group,
        op.block, op.loop,
        op.get(v.i), op.get(v.count), op.i32GeU, op.brIf(1),
        op.get(v.i), op.i32(2), op.i32Shl, op.set(v.i4),
        op.get(v.codes), op.get(v.ids), op.get(v.i4), op.i32Add, op.i32Load(), op.get(v.m), op.i32Mul, op.i32Add, op.set(v.cp),
        op.get(v.luts), op.get(v.slots), op.get(v.i4), op.i32Add, op.i32Load(), op.get(v.lutBytes), op.i32Mul, op.i32Add, op.set(v.lp),
        ...adcSum(v.m, v.cp, v.j, v.s, v.lp),
        op.get(v.out), op.get(v.i4), op.i32Add, op.get(v.s), op.f32Store(),
        op.get(v.i), op.i32(1), op.i32Add, op.set(v.i),
        op.br(0), op.end, op.end,
      ];
    },
  });
}

/**
 * The table kernel specialised for 8-d subspaces (768/96, 784/98: the common case): the eight
 * query components are splatted once per subspace and kept in registers, and the eight
 * codebook rows are read at fixed offsets, so each 4 centroids cost 8 loads and 8 fused steps.
 * dsub is not read (it is 8).
 */
function lut8Kernel<N extends string>(name: N, l2: boolean) {
  return kernel({
    name,
    params: ['q', 'cbT', 'm', 'dsub', 'lut'],
    results: [],
    // qs: the subspace's eight query components, each splatted.
    locals: { j: I32, c: I32, acc: V128, qrow: I32, cbrow: I32, lutrow: I32, qs: times(8, V128), d: V128 },
    body: (v) => {
      const splats: number[][] = [];
      for (let t = 0; t < 8; t++) splats.push([...op.get(v.qrow), ...op.f32Load(4 * t), ...op.f32x4Splat, ...op.set(v.qs(t))]);
      const terms: number[][] = [];
      for (let t = 0; t < 8; t++) {
        const load = [...op.get(v.cbrow), ...op.get(v.c), ...op.i32Add, ...op.v128Load(1024 * t)];
        terms.push(l2
          ? [...op.get(v.acc), ...op.get(v.qs(t)), ...load, ...op.f32x4Sub, ...op.tee(v.d), ...op.get(v.d), ...op.f32x4Mul, ...op.f32x4Add, ...op.set(v.acc)]
          : [...op.get(v.acc), ...op.get(v.qs(t)), ...load, ...op.f32x4Mul, ...op.f32x4Add, ...op.set(v.acc)]);
      }
      return [
        op.get(v.q), op.set(v.qrow), op.get(v.cbT), op.set(v.cbrow), op.get(v.lut), op.set(v.lutrow),
        op.block, op.loop,
        op.get(v.j), op.get(v.m), op.i32GeU, op.brIf(1),
        ...splats,
        op.i32(0), op.set(v.c),
        op.block, op.loop,
        op.get(v.c), op.i32(1024), op.i32GeU, op.brIf(1),
        op.v128Zero, op.set(v.acc),
        ...terms,
        op.get(v.lutrow), op.get(v.c), op.i32Add, op.get(v.acc), ...(l2 ? [] : [op.f32x4Neg]), op.v128Store(),
        op.get(v.c), op.i32(16), op.i32Add, op.set(v.c),
        op.br(0), op.end, op.end,
        op.get(v.qrow), op.i32(32), op.i32Add, op.set(v.qrow),
        op.get(v.cbrow), op.i32(8 * 1024), op.i32Add, op.set(v.cbrow),
        op.get(v.lutrow), op.i32(1024), op.i32Add, op.set(v.lutrow),
        op.get(v.j), op.i32(1), op.i32Add, op.set(v.j),
        op.br(0), op.end, op.end,
      ];
    },
  });
}

export const PQ_KERNELS = [
  lutKernel('pqLutIp', false), lutKernel('pqLutL2', true), adcKernel(), adcPairsKernel(),
  lut8Kernel('pqLut8Ip', false), lut8Kernel('pqLut8L2', true),
];

export type PqWasmKernels = KernelExports<typeof PQ_KERNELS>;
