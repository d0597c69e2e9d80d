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
 *   pairs(qbase, base, nbytes, slots, ids, count, out)
 *                           out[j] = one(qbase + slots[j]*nbytes, base + ids[j]*nbytes, nbytes)
 *   stridedPairs(qbase, qstride, base, nbytes, slots, ids, count, out): pairs whose prepared
 *     queries are qstride bytes each (encoded stores: a query is f32 while an item is a code).
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

export function pairsKernel(name: string, one: number): FuncDef {
  return pairsLoop(name, one, false);
}

export function stridedPairsKernel(name: string, one: number): FuncDef {
  return pairsLoop(name, one, true);
}

function pairsLoop(name: string, one: number, strided: boolean): FuncDef {
  // params: qbase, [qstride], base, nbytes, slots, ids, count, out; locals j, j*4
  const s = strided ? 1 : 0;
  const QB = 0, QS = s ? 1 : 2 + s, BASE = 1 + s, N = 2 + s, SLOTS = 3 + s, IDS = 4 + s, COUNT = 5 + s, OUT = 6 + s;
  const J = 7 + s, J4 = 8 + s;
  return {
    name,
    params: new Array<number>(7 + s).fill(I32),
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
