import { F32, I32, op } from '../wasm/encoder.js';
import { type KernelExports, kernel } from '../wasm/kernel.js';

/**
 * WebAssembly kernel for sparse inner products against a query scattered into a dense row:
 *
 *   sparseIpGather(dense, indptr, indices, values, ids, count, out)
 *     out[j] = sum over p in [indptr[ids[j]], indptr[ids[j] + 1]) of dense[indices[p]] * values[p]
 *
 * All pointers are byte offsets; indptr and indices are u32, values and dense f32. Scalar code
 * (a gather has no SIMD form in WebAssembly), two accumulators to overlap the loads.
 */
export const SPARSE_KERNELS = [
  kernel({
    name: 'sparseIpGather',
    params: ['dense', 'indptr', 'indices', 'values', 'ids', 'count', 'out'],
    results: [],
    // p: the byte offset of the entry; end: of the row's end; id: the address of the row's indptr entry.
    locals: { j: I32, p: I32, end: I32, s0: F32, s1: F32, id: I32 },
    body: (v) => {
      const term = (acc: number, offset: number) => [
        op.get(acc),
        op.get(v.dense), op.get(v.indices), op.get(v.p), op.i32Add, op.i32Load(offset), op.i32(2), op.i32Shl, op.i32Add, op.f32Load(),
        op.get(v.values), op.get(v.p), op.i32Add, op.f32Load(offset),
        op.f32Mul, op.f32Add, op.set(acc),
      ];
      return [
        // The touch pass (see touchRows in loops.ts): every row's first index and value, so the
        // rows' cache misses overlap; out[j] is scratch until the loop below writes it.
        op.block, op.loop,
        op.get(v.j), op.get(v.count), op.i32GeU, op.brIf(1),
        op.get(v.ids), op.get(v.j), op.i32(2), op.i32Shl, op.i32Add, op.i32Load(), op.i32(2), op.i32Shl, op.get(v.indptr), op.i32Add,
        op.i32Load(), op.i32(2), op.i32Shl, op.set(v.p),
        op.get(v.out), op.get(v.j), op.i32(2), op.i32Shl, op.i32Add,
        op.get(v.indices), op.get(v.p), op.i32Add, op.i32Load8u(),
        op.get(v.values), op.get(v.p), op.i32Add, op.i32Load8u(), op.i32Add,
        op.i32Store(),
        op.get(v.j), op.i32(1), op.i32Add, op.set(v.j),
        op.br(0), op.end, op.end,
        op.i32(0), op.set(v.j),
        op.block, op.loop,
        op.get(v.j), op.get(v.count), op.i32GeU, op.brIf(1),
        op.get(v.ids), op.get(v.j), op.i32(2), op.i32Shl, op.i32Add, op.i32Load(), op.i32(2), op.i32Shl, op.get(v.indptr), op.i32Add, op.set(v.id),
        op.get(v.id), op.i32Load(), op.i32(2), op.i32Shl, op.set(v.p),
        op.get(v.id), op.i32Load(4), op.i32(2), op.i32Shl, op.set(v.end),
        op.f32Const0, op.set(v.s0), op.f32Const0, op.set(v.s1),
        // Pairs of entries while two remain.
        op.block, op.loop,
        op.get(v.p), op.i32(8), op.i32Add, op.get(v.end), op.i32GtU, op.brIf(1),
        ...term(v.s0, 0), ...term(v.s1, 4),
        op.get(v.p), op.i32(8), op.i32Add, op.set(v.p),
        op.br(0), op.end, op.end,
        // The odd one.
        op.block,
        op.get(v.p), op.get(v.end), op.i32GeU, op.brIf(0),
        ...term(v.s0, 0),
        op.end,
        op.get(v.out), op.get(v.j), op.i32(2), op.i32Shl, op.i32Add, op.get(v.s0), op.get(v.s1), op.f32Add, op.f32Store(),
        op.get(v.j), op.i32(1), op.i32Add, op.set(v.j),
        op.br(0), op.end, op.end,
      ];
    },
  }),
];

export type SparseWasmKernels = KernelExports<typeof SPARSE_KERNELS>;
