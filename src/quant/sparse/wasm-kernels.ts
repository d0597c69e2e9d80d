import { F32, type FuncDef, I32, op } from '../wasm/encoder.js';

/**
 * WebAssembly kernel for sparse inner products against a query scattered into a dense row:
 *
 *   sparseIpGather(dense, indptr, indices, values, ids, count, out)
 *     out[j] = sum over p in [indptr[ids[j]], indptr[ids[j] + 1]) of dense[indices[p]] * values[p]
 *
 * All pointers are byte offsets; indptr and indices are u32, values and dense f32. Scalar code
 * (a gather has no SIMD form in WebAssembly), two accumulators to overlap the loads.
 */
export interface SparseWasmKernels {
  sparseIpGather(dense: number, indptr: number, indices: number, values: number, ids: number, count: number, out: number): void;
}

export function sparseKernels(): FuncDef[] {
  // params: 0 dense, 1 indptr, 2 indices, 3 values, 4 ids, 5 count, 6 out
  // locals: 7 j, 8 p (byte offset of the entry), 9 end, 10 s0, 11 s1, 12 id
  const DENSE = 0, INDPTR = 1, IDX = 2, VALS = 3, IDS = 4, COUNT = 5, OUT = 6, J = 7, P = 8, END = 9, S0 = 10, S1 = 11, ID = 12;
  const term = (acc: number, offset: number) => [
    op.get(acc),
    op.get(DENSE), op.get(IDX), op.get(P), op.i32Add, op.i32Load(offset), op.i32(2), op.i32Shl, op.i32Add, op.f32Load(),
    op.get(VALS), op.get(P), op.i32Add, op.f32Load(offset),
    op.f32Mul, op.f32Add, op.set(acc),
  ];
  return [{
    name: 'sparseIpGather',
    params: [I32, I32, I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, I32, F32, F32, I32],
    body: [
      // The touch pass (see touchRows in loops.ts): every row's first index and value, so the
      // rows' cache misses overlap; out[j] is scratch until the loop below writes it.
      op.block, op.loop,
      op.get(J), op.get(COUNT), op.i32GeU, op.brIf(1),
      op.get(IDS), op.get(J), op.i32(2), op.i32Shl, op.i32Add, op.i32Load(), op.i32(2), op.i32Shl, op.get(INDPTR), op.i32Add,
      op.i32Load(), op.i32(2), op.i32Shl, op.set(P),
      op.get(OUT), op.get(J), op.i32(2), op.i32Shl, op.i32Add,
      op.get(IDX), op.get(P), op.i32Add, op.i32Load8u(),
      op.get(VALS), op.get(P), op.i32Add, op.i32Load8u(), op.i32Add,
      op.i32Store(),
      op.get(J), op.i32(1), op.i32Add, op.set(J),
      op.br(0), op.end, op.end,
      op.i32(0), op.set(J),
      op.block, op.loop,
      op.get(J), op.get(COUNT), op.i32GeU, op.brIf(1),
      op.get(IDS), op.get(J), op.i32(2), op.i32Shl, op.i32Add, op.i32Load(), op.i32(2), op.i32Shl, op.get(INDPTR), op.i32Add, op.set(ID),
      op.get(ID), op.i32Load(), op.i32(2), op.i32Shl, op.set(P),
      op.get(ID), op.i32Load(4), op.i32(2), op.i32Shl, op.set(END),
      op.f32Const0, op.set(S0), op.f32Const0, op.set(S1),
      // Pairs of entries while two remain.
      op.block, op.loop,
      op.get(P), op.i32(8), op.i32Add, op.get(END), op.i32GtU, op.brIf(1),
      ...term(S0, 0), ...term(S1, 4),
      op.get(P), op.i32(8), op.i32Add, op.set(P),
      op.br(0), op.end, op.end,
      // The odd one.
      op.block,
      op.get(P), op.get(END), op.i32GeU, op.brIf(0),
      ...term(S0, 0),
      op.end,
      op.get(OUT), op.get(J), op.i32(2), op.i32Shl, op.i32Add, op.get(S0), op.get(S1), op.f32Add, op.f32Store(),
      op.get(J), op.i32(1), op.i32Add, op.set(J),
      op.br(0), op.end, op.end,
    ],
  }];
}
