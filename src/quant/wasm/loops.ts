import { I32, op } from './encoder.js';
import { kernel } from './kernel.js';

/** The locals a touchRows pass reads, by index (`j` is a scratch local, left at 0). */
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
 * row (bench/README.md, "Figures behind tuned constants"). Touching every line of every row measured slower
 * (too many loads in flight). A byte, not a word: a PQ code row may be shorter
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
 * cache misses. Four measured best among two to six rows, with one or two accumulators each
 * (bench/README.md, "Figures behind tuned constants").
 */
export const GROUP_ROWS = 4;

/**
 * The loops that score a list of items for one query, or a batch round of (query, item)
 * pairs, with a group kernel and a row kernel of the same arithmetic (dense/wasm-kernels.ts,
 * scalar/wasm-kernels.ts), called by name:
 *
 *   group(q, x_0 .. x_{R-1}, nbytes, out, valid)            shared query (gather)
 *   group(q_0 .. q_{R-1}, x_0 .. x_{R-1}, nbytes, out, valid) a query per item (pairs)
 *                                          out[r] = row(q_r, x_r, nbytes) for r < valid
 *   row(q, x, nbytes) -> f32
 *
 *   gather(q, base, nbytes, ids, count, out)          out[j] = row(q, base + ids[j]*nbytes, nbytes)
 *   pairs(qbase, qstride, base, nbytes, slots, ids, count, out)
 *                         out[j] = row(qbase + slots[j]*qstride, base + ids[j]*nbytes, nbytes)
 *
 * Groups of GROUP_ROWS while that many entries are left; a last two or three go through one
 * more group call padded with repeats of the first of them (cheaper than the row kernel, whose
 * single chain of additions is latency-bound); a last
 * single entry goes through the row kernel. All of them sum in the same order, so an item's
 * distance to a query is the same number wherever it sits in a list, in single or batched
 * search.
 */
export function gatherKernel<N extends string>(name: N, group: string, row: string) {
  return kernel({
    name,
    params: ['q', 'base', 'nbytes', 'ids', 'count', 'out'],
    results: [],
    locals: { j: I32, k: I32 },
    body: (v, call) => [
      ...touchRows({ base: v.base, rowBytes: v.nbytes, ids: v.ids, count: v.count, out: v.out, j: v.j }),
      ...groupsThenRow({
        j: v.j, k: v.k, count: v.count, out: v.out, group: call(group), row: call(row), nbytes: v.nbytes,
        sharedQuery: [op.get(v.q)], query: () => [op.get(v.q)], item: entry(v.ids, v.base, v.nbytes),
      }),
    ],
  });
}

export function pairsKernel<N extends string>(name: N, group: string, row: string) {
  return kernel({
    name,
    params: ['qbase', 'qstride', 'base', 'nbytes', 'slots', 'ids', 'count', 'out'],
    results: [],
    locals: { j: I32, k: I32 },
    body: (v, call) => [
      ...touchRows({ base: v.base, rowBytes: v.nbytes, ids: v.ids, count: v.count, out: v.out, j: v.j }),
      ...groupsThenRow({
        j: v.j, k: v.k, count: v.count, out: v.out, group: call(group), row: call(row), nbytes: v.nbytes,
        sharedQuery: null, query: entry(v.slots, v.qbase, v.qstride), item: entry(v.ids, v.base, v.nbytes),
      }),
    ],
  });
}

/**
 * Pushes base + list[index] * stride, the index being the local `at` plus `r` (read with a
 * load offset). Arguments are local indices.
 */
type Entry = (at: number, r: number) => number[][];
function entry(list: number, base: number, stride: number): Entry {
  return (at, r) => [op.get(base), op.get(list), op.get(at), op.i32(2), op.i32Shl, op.i32Add, op.i32Load(4 * r), op.get(stride), op.i32Mul, op.i32Add];
}

interface ListLoop {
  /** Locals: the entry index, and a scratch index for padded entries. */
  j: number;
  k: number;
  /** Locals holding the count, the output pointer and the item bytes. */
  count: number;
  out: number;
  nbytes: number;
  /** The calls of the group and row kernels. */
  group: number[];
  row: number[];
  /** A gather's query (pushed once per group call), or null for a query per entry. */
  sharedQuery: number[][] | null;
  query: Entry;
  item: Entry;
}

function groupsThenRow(l: ListLoop): number[][] {
  const R = GROUP_ROWS;
  const outAt = [op.get(l.out), op.get(l.j), op.i32(2), op.i32Shl, op.i32Add];
  const call = (at: (r: number) => number[][], valid: number[][]): number[][] => {
    const args: number[][] = [];
    if (l.sharedQuery !== null) args.push(...l.sharedQuery);
    else for (let r = 0; r < R; r++) args.push(...at(r), ...l.query(l.k, 0));
    for (let r = 0; r < R; r++) args.push(...at(r), ...l.item(l.k, 0));
    return [...args, op.get(l.nbytes), ...outAt, ...valid, l.group];
  };
  // k = j + r, or j where j + r is past the list (the padding repeats entry j).
  const padded = (r: number) => [
    op.get(l.j), op.i32(r), op.i32Add, op.tee(l.k), op.get(l.j), op.get(l.k), op.get(l.count), op.i32LtU, op.select, op.set(l.k),
  ];
  const full = (r: number) => [op.get(l.j), op.i32(r), op.i32Add, op.set(l.k)];
  const left = [op.get(l.count), op.get(l.j), op.i32Sub];
  return [
    op.block, op.loop,
    op.get(l.j), op.i32(R - 1), op.i32Add, op.get(l.count), op.i32GeU, op.brIf(1),
    ...call(full, [op.i32(R)]),
    op.get(l.j), op.i32(R), op.i32Add, op.set(l.j),
    op.br(0), op.end, op.end,
    ...left, op.i32(2), op.i32GeU, op.if,
    ...call(padded, left),
    op.get(l.count), op.set(l.j),
    op.end,
    op.get(l.j), op.get(l.count), op.i32LtU, op.if,
    ...outAt, ...l.query(l.j, 0), ...l.item(l.j, 0), op.get(l.nbytes), l.row, op.f32Store(),
    op.end,
  ];
}
