import { F32, I32, op, V128, type FuncDef } from './encoder.js';
import { touchRows } from './loops.js';

/**
 * Dense f32 kernels that score GROUP_ROWS rows per call: what every query-to-item distance of
 * the dense stores goes through (gather for one query, pairs for a batch round).
 *
 * Scoring several rows at once loads each query chunk once for all of them (gather), gives the
 * CPU independent dependency chains, and overlaps the rows' cache misses. Search QPS at recall
 * 0.95 against one row per call, one process: MNIST 60k x 784 +39 %, synthetic 200k x 128
 * +30 %, 20k x 128 +15 %. Three rows with two accumulators each did as well on cached rows but
 * 5 % worse at 200k; five and six rows were no better than four; four accumulators per row (the
 * one-row kernel's order) ran out of registers.
 *
 * One order of the f32 additions for every row, wherever it sits in a list: one accumulator
 * per row over 16-byte chunks, its four lanes summed ((l0 + l1) + (l2 + l3)), then the scalar
 * tail in order. A list's last count % GROUP_ROWS rows go through a group call padded with a
 * repeated row, not through the one-row kernel, so that a query's distance to an item is the
 * same number in single and batched search, on any thread (the one-row kernels, with four
 * accumulators, serve item-to-item distances). Results agree with the one-row kernel to ~1e-6
 * relative.
 */
export const GROUP_ROWS = 4;

/**
 * group(q, x_0 .. x_{R-1}, nbytes, out, valid) with one query (`sharedQuery`), or
 * group(q_0 .. q_{R-1}, x_0 .. x_{R-1}, nbytes, out, valid) with one per row:
 * out[r] = distance(q_r, x_r) for r < valid (l2: squared distance; ip: dot product).
 */
function groupKernel(name: string, squareDiff: boolean, sharedQuery: boolean): FuncDef {
  const R = GROUP_ROWS;
  const nq = sharedQuery ? 1 : R;
  const Q = 0, X = nq, N = nq + R, OUT = N + 1, VALID = N + 2;
  const I = N + 3, END = I + 1, ACC = END + 1, QV = ACC + R, D = QV + 1, S = D + 1, T = S + 1;
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
      // The scalar tail (a dimension that is not a multiple of 4), component by component.
      op.get(END), op.set(I),
      op.block, op.loop,
      op.get(I), op.get(N), op.i32GeU, op.brIf(1),
      op.get(S),
      op.get(q(r)), op.get(I), op.i32Add, op.f32Load(),
      op.get(X + r), op.get(I), op.i32Add, op.f32Load(),
      ...scalarTerm, op.f32Add, op.set(S),
      op.get(I), op.i32(4), op.i32Add, op.set(I),
      op.br(0), op.end, op.end,
      op.i32(r), op.get(VALID), op.i32LtU, op.if,
      op.get(OUT), op.get(S), op.f32Store(4 * r),
      op.end,
    );
  }
  return {
    name,
    params: new Array<number>(nq + R + 3).fill(I32),
    results: [],
    locals: [I32, I32, ...new Array<number>(R + 2).fill(V128), F32, F32],
    body,
  };
}

/**
 * The loop over a list in groups (see gatherKernel/pairsKernel in loops.ts for the
 * signatures). `itemPtr(k)` and `queryPtr(k)` push the pointers of the list's entry at local
 * `k`; the last group repeats its first entry in place of the missing ones and stores only the
 * real ones.
 */
function groupedLoop(
  group: number, sharedQuery: boolean, J: number, K: number, count: number, out: number,
  itemPtr: (k: number) => number[][], queryPtr: (k: number) => number[][], nbytes: number[][],
): number[][] {
  const R = GROUP_ROWS;
  // K = j + r when that is inside the list, else j (the padding repeats a real entry).
  const entry = (r: number) => [
    op.get(J), op.i32(r), op.i32Add, op.tee(K), op.get(J), op.get(K), op.get(count), op.i32LtU, op.select, op.set(K),
  ];
  const call: number[][] = [];
  if (sharedQuery) call.push(...queryPtr(J));
  else for (let r = 0; r < R; r++) call.push(...entry(r), ...queryPtr(K));
  for (let r = 0; r < R; r++) call.push(...entry(r), ...itemPtr(K));
  call.push(...nbytes, op.get(out), op.get(J), op.i32(2), op.i32Shl, op.i32Add, op.get(count), op.get(J), op.i32Sub, op.call(group));
  return [
    op.block, op.loop,
    op.get(J), op.get(count), op.i32GeU, op.brIf(1),
    ...call,
    op.get(J), op.i32(R), op.i32Add, op.set(J),
    op.br(0), op.end, op.end,
  ];
}

/** gather(q, base, nbytes, ids, count, out): out[j] = distance(q, base + ids[j] * nbytes). */
function groupedGatherKernel(name: string, group: number): FuncDef {
  // params: 0 q, 1 base, 2 nbytes, 3 ids, 4 count, 5 out; locals 6 j, 7 k
  const J = 6, K = 7;
  const itemPtr = (k: number) => [op.get(1), op.get(3), op.get(k), op.i32(2), op.i32Shl, op.i32Add, op.i32Load(), op.get(2), op.i32Mul, op.i32Add];
  return {
    name,
    params: new Array<number>(6).fill(I32),
    results: [],
    locals: [I32, I32],
    body: [
      ...touchRows({ base: 1, rowBytes: 2, ids: 3, count: 4, out: 5, j: J }),
      ...groupedLoop(group, true, J, K, 4, 5, itemPtr, () => [op.get(0)], [op.get(2)]),
    ],
  };
}

/** pairs(qbase, base, nbytes, slots, ids, count, out): out[j] = distance(qbase + slots[j] * nbytes, base + ids[j] * nbytes). */
function groupedPairsKernel(name: string, group: number): FuncDef {
  // params: 0 qbase, 1 base, 2 nbytes, 3 slots, 4 ids, 5 count, 6 out; locals 7 j, 8 k
  const J = 7, K = 8;
  const at = (list: number, ptrBase: number) => (k: number) => [op.get(ptrBase), op.get(list), op.get(k), op.i32(2), op.i32Shl, op.i32Add, op.i32Load(), op.get(2), op.i32Mul, op.i32Add];
  return {
    name,
    params: new Array<number>(7).fill(I32),
    results: [],
    locals: [I32, I32],
    body: [
      ...touchRows({ base: 1, rowBytes: 2, ids: 4, count: 5, out: 6, j: J }),
      ...groupedLoop(group, false, J, K, 5, 6, at(4, 1), at(3, 0), [op.get(2)]),
    ],
  };
}

/**
 * The dense kernels for a module in which they start at function index `base`:
 * l2Gather, ipGather, l2Pairs, ipPairs and the four group kernels they call.
 */
export function groupedDenseKernels(base: number): FuncDef[] {
  return [
    groupKernel('l2Group', true, true), // base
    groupKernel('ipGroup', false, true), // base + 1
    groupKernel('l2PairGroup', true, false), // base + 2
    groupKernel('ipPairGroup', false, false), // base + 3
    groupedGatherKernel('l2Gather', base),
    groupedGatherKernel('ipGather', base + 1),
    groupedPairsKernel('l2Pairs', base + 2),
    groupedPairsKernel('ipPairs', base + 3),
  ];
}
