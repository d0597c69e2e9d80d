import { F32, type FuncDef, I32, op, V128 } from '../wasm/encoder.js';
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
 * The one-row kernels of kernels-wasm.ts (four accumulators, faster for one row but another
 * order) serve item-to-item distances: the build's neighbour heuristic. The two agree to ~1e-6
 * relative.
 *
 *   l2Row / ipRow (q, x, nbytes) -> f32
 *   l2Group / ipGroup (q, x_0 .. x_3, nbytes, out, valid)
 *   l2PairGroup / ipPairGroup (q_0 .. q_3, x_0 .. x_3, nbytes, out, valid)
 *   l2Gather / ipGather, l2Pairs / ipPairs: loops.ts
 */

/**
 * Rows `rows` (1: returns the distance; more: stores out[r] for r < valid, the last
 * parameter); `sharedQuery`: one query for all rows, else one per row. l2: squared distance;
 * ip: dot product.
 */
function rowsKernel(name: string, squareDiff: boolean, rows: number, sharedQuery: boolean): FuncDef {
  const R = rows;
  const nq = sharedQuery ? 1 : R;
  const Q = 0, X = nq, N = nq + R;
  const OUT = N + 1, VALID = N + 2; // only when R > 1
  const I = R > 1 ? N + 3 : N + 1, END = I + 1, ACC = END + 1, QV = ACC + R, D = QV + 1, S = D + 1, T = S + 1;
  const q = (r: number) => Q + (sharedQuery ? 0 : r);
  const vectorTerm = squareDiff ? [op.f32x4Sub, op.tee(D), op.get(D), op.f32x4Mul] : [op.f32x4Mul];
  const scalarTerm = squareDiff ? [op.f32Sub, op.tee(T), op.get(T), op.f32Mul] : [op.f32Mul];
  const body: number[][] = [
    op.get(N), op.i32(-16), op.i32And, op.set(END),
    op.block, op.loop,
    op.get(I), op.get(END), op.i32GeU, op.brIf(1),
  ];
  if (sharedQuery) body.push(op.get(Q), op.get(I), op.i32Add, op.v128Load(), op.set(QV));
  for (let r = 0; r < R; r++) {
    const query = sharedQuery ? [op.get(QV)] : [op.get(q(r)), op.get(I), op.i32Add, op.v128Load()];
    body.push(op.get(ACC + r), ...query, op.get(X + r), op.get(I), op.i32Add, op.v128Load(), ...vectorTerm, op.f32x4Add, op.set(ACC + r));
  }
  body.push(op.get(I), op.i32(16), op.i32Add, op.set(I), op.br(0), op.end, op.end);
  for (let r = 0; r < R; r++) {
    const a = ACC + r;
    body.push(
      op.get(a), op.f32x4Lane(0), op.get(a), op.f32x4Lane(1), op.f32Add,
      op.get(a), op.f32x4Lane(2), op.get(a), op.f32x4Lane(3), op.f32Add, op.f32Add, op.set(S),
      op.get(END), op.set(I),
      op.block, op.loop,
      op.get(I), op.get(N), op.i32GeU, op.brIf(1),
      op.get(S),
      op.get(q(r)), op.get(I), op.i32Add, op.f32Load(),
      op.get(X + r), op.get(I), op.i32Add, op.f32Load(),
      ...scalarTerm, op.f32Add, op.set(S),
      op.get(I), op.i32(4), op.i32Add, op.set(I),
      op.br(0), op.end, op.end,
      ...(R > 1 ? [op.i32(r), op.get(VALID), op.i32LtU, op.if, op.get(OUT), op.get(S), op.f32Store(4 * r), op.end] : [op.get(S)]),
    );
  }
  return {
    name,
    params: new Array<number>(nq + R + (R > 1 ? 3 : 1)).fill(I32),
    results: R > 1 ? [] : [F32],
    locals: [I32, I32, ...new Array<number>(R + 2).fill(V128), F32, F32],
    body,
  };
}

/** The dense query kernels, for a module in which they start at function index `base`. */
export function denseQueryKernels(base: number): FuncDef[] {
  const l2Row = base, ipRow = base + 1, l2Group = base + 2, ipGroup = base + 3, l2PairGroup = base + 4, ipPairGroup = base + 5;
  return [
    rowsKernel('l2Row', true, 1, true),
    rowsKernel('ipRow', false, 1, true),
    rowsKernel('l2Group', true, GROUP_ROWS, true),
    rowsKernel('ipGroup', false, GROUP_ROWS, true),
    rowsKernel('l2PairGroup', true, GROUP_ROWS, false),
    rowsKernel('ipPairGroup', false, GROUP_ROWS, false),
    gatherKernel('l2Gather', l2Group, l2Row),
    gatherKernel('ipGather', ipGroup, ipRow),
    pairsKernel('l2Pairs', l2PairGroup, l2Row),
    pairsKernel('ipPairs', ipPairGroup, ipRow),
  ];
}
