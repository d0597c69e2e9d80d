import { I32, op, type FuncDef } from './encoder.js';

/** Local indices a touchRows pass reads (`j` is a scratch local, left at 0). */
export interface TouchLocals {
  base: number;
  rowBytes: number;
  ids: number;
  count: number;
  out: number;
  j: number;
}

/**
 * The touch pass: loads the first byte of every row the loop after it will score and writes it
 * to out[j] (scratch the real loop overwrites, so the loads stay live). WebAssembly has no
 * prefetch instruction; independent loads are the next best thing. Once the rows no longer fit
 * in the caches, every row's first line is then in flight at once instead of each row missing
 * behind the previous row's arithmetic, and the hardware prefetcher streams the rest of each
 * row: about 1.5x per distance on random rows of 1M x 128. Touching every line of every row
 * measured slower (too many loads in flight). A byte, not a word: a PQ code row may be shorter
 * than four bytes.
 */
export function touchRows(l: TouchLocals): number[][] {
  return [
    op.block, op.loop,
    op.get(l.j), op.get(l.count), op.i32GeU, op.brIf(1),
    op.get(l.out), op.get(l.j), op.i32(2), op.i32Shl, op.i32Add,
    op.get(l.base), op.get(l.ids), op.get(l.j), op.i32(2), op.i32Shl, op.i32Add, op.i32Load(), op.get(l.rowBytes), op.i32Mul, op.i32Add,
    op.i32Load8u(),
    op.i32Store(),
    op.get(l.j), op.i32(1), op.i32Add, op.set(l.j),
    op.br(0), op.end, op.end,
    op.i32(0), op.set(l.j),
  ];
}

/**
 * Items a group kernel scores per call. Scoring several rows at once loads each query chunk
 * once for all of them, gives the CPU independent dependency chains, and overlaps the rows'
 * cache misses. Dense search QPS at recall 0.95 against one row per call, one process: MNIST
 * 60k x 784 +39 %, synthetic 200k x 128 +30 %, 20k x 128 +15 %. Three rows with two
 * accumulators each did as well on cached rows but 5 % worse at 200k; five and six rows were
 * no better than four.
 */
export const GROUP_ROWS = 4;

/**
 * The loops that score a list of items for one query, or a batch round of (query, item)
 * pairs, with a group kernel and a row kernel of the same arithmetic (kernels-dense-query.ts, kernels-scalar.ts):
 *
 *   group(q, x_0 .. x_{R-1}, nbytes, out)            shared query (gather)
 *   group(q_0 .. q_{R-1}, x_0 .. x_{R-1}, nbytes, out) a query per item (pairs)
 *                                                     out[r] = row(q_r, x_r, nbytes)
 *   row(q, x, nbytes) -> f32
 *
 *   gather(q, base, nbytes, ids, count, out)          out[j] = row(q, base + ids[j]*nbytes, nbytes)
 *   pairs(qbase, qstride, base, nbytes, slots, ids, count, out)
 *                         out[j] = row(qbase + slots[j]*qstride, base + ids[j]*nbytes, nbytes)
 *
 * Groups of GROUP_ROWS first, then the last count % GROUP_ROWS one at a time. Both kernels sum
 * in the same order, so an item's distance to a query is the same number wherever it sits in a
 * list, in single or batched search.
 */
export function gatherKernel(name: string, group: number, row: number): FuncDef {
  // params: 0 q, 1 base, 2 nbytes, 3 ids, 4 count, 5 out; local 6 j
  const J = 6;
  const item = (r: number) => [op.get(1), op.get(3), op.get(J), op.i32(2), op.i32Shl, op.i32Add, op.i32Load(4 * r), op.get(2), op.i32Mul, op.i32Add];
  return {
    name,
    params: new Array<number>(6).fill(I32),
    results: [],
    locals: [I32],
    body: [
      ...touchRows({ base: 1, rowBytes: 2, ids: 3, count: 4, out: 5, j: J }),
      ...groupsThenRows(J, 4, 5, group, row, [op.get(0)], () => [op.get(0)], item, [op.get(2)]),
    ],
  };
}

export function pairsKernel(name: string, group: number, row: number): FuncDef {
  // params: 0 qbase, 1 qstride, 2 base, 3 nbytes, 4 slots, 5 ids, 6 count, 7 out; local 8 j
  const J = 8;
  const at = (list: number, base: number, stride: number) => (r: number) => [
    op.get(base), op.get(list), op.get(J), op.i32(2), op.i32Shl, op.i32Add, op.i32Load(4 * r), op.get(stride), op.i32Mul, op.i32Add,
  ];
  const query = at(4, 0, 1);
  const queries: number[][] = [];
  for (let r = 0; r < GROUP_ROWS; r++) queries.push(...query(r));
  return {
    name,
    params: new Array<number>(8).fill(I32),
    results: [],
    locals: [I32],
    body: [
      ...touchRows({ base: 2, rowBytes: 3, ids: 5, count: 6, out: 7, j: J }),
      ...groupsThenRows(J, 6, 7, group, row, queries, query, at(5, 2, 3), [op.get(3)]),
    ],
  };
}

/**
 * The two loops over j: groups while GROUP_ROWS entries are left, then single entries.
 * `groupQueries` pushes the group call's query pointers, `query(r)` / `item(r)` the pointers of
 * entry j + r.
 */
function groupsThenRows(
  J: number, count: number, out: number, group: number, row: number,
  groupQueries: number[][], query: (r: number) => number[][], item: (r: number) => number[][], nbytes: number[][],
): number[][] {
  const outAt = [op.get(out), op.get(J), op.i32(2), op.i32Shl, op.i32Add];
  const items: number[][] = [];
  for (let r = 0; r < GROUP_ROWS; r++) items.push(...item(r));
  return [
    op.block, op.loop,
    op.get(J), op.i32(GROUP_ROWS - 1), op.i32Add, op.get(count), op.i32GeU, op.brIf(1),
    ...groupQueries, ...items, ...nbytes, ...outAt, op.call(group),
    op.get(J), op.i32(GROUP_ROWS), op.i32Add, op.set(J),
    op.br(0), op.end, op.end,
    op.block, op.loop,
    op.get(J), op.get(count), op.i32GeU, op.brIf(1),
    ...outAt, ...query(0), ...item(0), ...nbytes, op.call(row), op.f32Store(),
    op.get(J), op.i32(1), op.i32Add, op.set(J),
    op.br(0), op.end, op.end,
  ];
}
