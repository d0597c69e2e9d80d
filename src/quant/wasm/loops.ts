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
 * The loops around a one-pair distance kernel `one(q, x, nbytes) -> f32` (function index
 * `one` in the module): every store kind scores a list of items or a batch round with them.
 *
 *   gather(q, base, nbytes, ids, count, out)        out[j] = one(q, base + ids[j]*nbytes, nbytes)
 *   stridedPairs(qbase, qstride, base, nbytes, slots, ids, count, out)
 *                           out[j] = one(qbase + slots[j]*qstride, base + ids[j]*nbytes, nbytes)
 *     (encoded stores: a prepared query is qstride bytes of f32 while an item is nbytes of code).
 */
export function gatherKernel(name: string, one: number): FuncDef {
  // params: 0 q, 1 base, 2 nbytes, 3 ids, 4 count, 5 out; local 6 j
  const J = 6;
  return {
    name,
    params: [I32, I32, I32, I32, I32, I32],
    results: [],
    locals: [I32],
    body: [
      ...touchRows({ base: 1, rowBytes: 2, ids: 3, count: 4, out: 5, j: J }),
      op.block, op.loop,
      op.get(J), op.get(4), op.i32GeU, op.brIf(1),
      op.get(5), op.get(J), op.i32(2), op.i32Shl, op.i32Add,
      op.get(0),
      op.get(1), op.get(3), op.get(J), op.i32(2), op.i32Shl, op.i32Add, op.i32Load(), op.get(2), op.i32Mul, op.i32Add,
      op.get(2), op.call(one),
      op.f32Store(),
      op.get(J), op.i32(1), op.i32Add, op.set(J),
      op.br(0), op.end, op.end,
    ],
  };
}

export function stridedPairsKernel(name: string, one: number): FuncDef {
  // params: 0 qbase, 1 qstride, 2 base, 3 nbytes, 4 slots, 5 ids, 6 count, 7 out; locals 8 j, 9 j*4
  const QB = 0, QS = 1, BASE = 2, N = 3, SLOTS = 4, IDS = 5, COUNT = 6, OUT = 7, J = 8, J4 = 9;
  return {
    name,
    params: new Array<number>(8).fill(I32),
    results: [],
    locals: [I32, I32],
    body: [
      ...touchRows({ base: BASE, rowBytes: N, ids: IDS, count: COUNT, out: OUT, j: J }),
      op.block, op.loop,
      op.get(J), op.get(COUNT), op.i32GeU, op.brIf(1),
      op.get(J), op.i32(2), op.i32Shl, op.set(J4),
      op.get(OUT), op.get(J4), op.i32Add,
      op.get(QB), op.get(SLOTS), op.get(J4), op.i32Add, op.i32Load(), op.get(QS), op.i32Mul, op.i32Add,
      op.get(BASE), op.get(IDS), op.get(J4), op.i32Add, op.i32Load(), op.get(N), op.i32Mul, op.i32Add,
      op.get(N), op.call(one),
      op.f32Store(),
      op.get(J), op.i32(1), op.i32Add, op.set(J),
      op.br(0), op.end, op.end,
    ],
  };
}
