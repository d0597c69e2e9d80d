import { F32, I32, op, V128 } from '../wasm/encoder.js';
import { kernel, type Run, times } from '../wasm/kernel.js';
import { GROUP_ROWS, gatherKernel, pairsKernel } from '../wasm/loops.js';

/**
 * The dense f32 kernels that score a query against items: what every query-to-item distance
 * of a dense store goes through (the gather and pairs loops, and a query evaluator's single
 * distance). They score GROUP_ROWS rows per call (see loops.ts for why), with one accumulator
 * per row over 16-byte chunks, its four lanes summed as (l0 + l1) + (l2 + l3), then the scalar
 * tail (a dimension that is not a multiple of 4) component by component. The row kernel sums
 * one row in exactly that order, so a list's last row, and single distances, get the same
 * bits as rows scored in a group.
 *
 * The one-row kernels of wasm/kernels-wasm.ts (four accumulators, faster for one row but another
 * order) serve item-to-item distances: the build's neighbour heuristic. The two agree to ~1e-6
 * relative.
 *
 *   l2Row / ipRow (q, x, nbytes) -> f32
 *   l2Group / ipGroup (q, x_0 .. x_3, nbytes, out, valid)
 *   l2PairGroup / ipPairGroup (q_0 .. q_3, x_0 .. x_3, nbytes, out, valid)
 *   l2Gather / ipGather, l2Pairs / ipPairs: loops.ts
 */

/** Local indices of one rows kernel: the params (a shared query is q(0) for every row), then the locals. */
interface Rows {
  rows: number;
  sharedQuery: boolean;
  q: Run;
  x: Run;
  nbytes: number;
  /** Group kernels: where the rows' distances go, and how many rows are real (null: return the one row's). */
  group: { out: number; valid: number } | null;
  i: number;
  end: number;
  acc: Run;
  qv: number;
  d: number;
  s: number;
  t: number;
}

/** A rows kernel's locals (the same for one row and for a group). */
const rowsLocals = (rows: number) => ({ i: I32, end: I32, acc: times(rows, V128), qv: V128, d: V128, s: F32, t: F32 });

/**
 * Rows `rows` (1: returns the distance; more: stores out[r] for r < valid); `sharedQuery`: one
 * query for all rows, else one per row. l2: squared distance; ip: dot product.
 */
function rowsBody(v: Rows, squareDiff: boolean): number[][] {
  const R = v.rows;
  const q = (r: number) => v.q(v.sharedQuery ? 0 : r);
  const vectorTerm = squareDiff ? [op.f32x4Sub, op.tee(v.d), op.get(v.d), op.f32x4Mul] : [op.f32x4Mul];
  const scalarTerm = squareDiff ? [op.f32Sub, op.tee(v.t), op.get(v.t), op.f32Mul] : [op.f32Mul];
  const body: number[][] = [
    op.get(v.nbytes), op.i32(-16), op.i32And, op.set(v.end),
    op.block, op.loop,
    op.get(v.i), op.get(v.end), op.i32GeU, op.brIf(1),
  ];
  if (v.sharedQuery) body.push(op.get(q(0)), op.get(v.i), op.i32Add, op.v128Load(), op.set(v.qv));
  for (let r = 0; r < R; r++) {
    const query = v.sharedQuery ? [op.get(v.qv)] : [op.get(q(r)), op.get(v.i), op.i32Add, op.v128Load()];
    body.push(op.get(v.acc(r)), ...query, op.get(v.x(r)), op.get(v.i), op.i32Add, op.v128Load(), ...vectorTerm, op.f32x4Add, op.set(v.acc(r)));
  }
  body.push(op.get(v.i), op.i32(16), op.i32Add, op.set(v.i), op.br(0), op.end, op.end);
  for (let r = 0; r < R; r++) {
    const a = v.acc(r);
    body.push(
      op.get(a), op.f32x4Lane(0), op.get(a), op.f32x4Lane(1), op.f32Add,
      op.get(a), op.f32x4Lane(2), op.get(a), op.f32x4Lane(3), op.f32Add, op.f32Add, op.set(v.s),
      op.get(v.end), op.set(v.i),
      op.block, op.loop,
      op.get(v.i), op.get(v.nbytes), op.i32GeU, op.brIf(1),
      op.get(v.s),
      op.get(q(r)), op.get(v.i), op.i32Add, op.f32Load(),
      op.get(v.x(r)), op.get(v.i), op.i32Add, op.f32Load(),
      ...scalarTerm, op.f32Add, op.set(v.s),
      op.get(v.i), op.i32(4), op.i32Add, op.set(v.i),
      op.br(0), op.end, op.end,
      ...(v.group !== null ? [op.i32(r), op.get(v.group.valid), op.i32LtU, op.if, op.get(v.group.out), op.get(v.s), op.f32Store(4 * r), op.end] : [op.get(v.s)]),
    );
  }
  return body;
}

/** A query's distance to one row: rowsBody for one row, returned. */
function rowKernel<N extends string>(name: N, squareDiff: boolean) {
  return kernel({
    name,
    params: ['q', 'x', 'nbytes'],
    results: [F32],
    locals: rowsLocals(1),
    body: (v) => rowsBody({ ...v, rows: 1, sharedQuery: true, q: () => v.q, x: () => v.x, group: null }, squareDiff),
  });
}

/** GROUP_ROWS rows (and one query, or one query per row) per call: rowsBody, stored to out. */
function groupKernel<N extends string>(name: N, squareDiff: boolean, sharedQuery: boolean) {
  return kernel({
    name,
    params: [['q', sharedQuery ? 1 : GROUP_ROWS], ['x', GROUP_ROWS], 'nbytes', 'out', 'valid'],
    results: [],
    locals: rowsLocals(GROUP_ROWS),
    body: (v) => rowsBody({ ...v, rows: GROUP_ROWS, sharedQuery, group: { out: v.out, valid: v.valid } }, squareDiff),
  });
}

/** The dense query kernels; the loops call the group and row kernels by name. */
export const DENSE_QUERY_KERNELS = [
  rowKernel('l2Row', true),
  rowKernel('ipRow', false),
  groupKernel('l2Group', true, true),
  groupKernel('ipGroup', false, true),
  groupKernel('l2PairGroup', true, false),
  groupKernel('ipPairGroup', false, false),
  gatherKernel('l2Gather', 'l2Group', 'l2Row'),
  gatherKernel('ipGather', 'ipGroup', 'ipRow'),
  pairsKernel('l2Pairs', 'l2PairGroup', 'l2Row'),
  pairsKernel('ipPairs', 'ipPairGroup', 'ipRow'),
];
