import { I32, I64, MAX_PAGES, op, sleb, uleb } from '../wasm/encoder.js';
import { encodeModule, kernel, type Run, times } from '../wasm/kernel.js';
import { compileKernels } from '../wasm/kernels-wasm.js';
import { QUERY_BITS } from './prepared-query.js';

/**
 * WebAssembly kernels of the RaBitQ estimator: S = sum_i x_u_i * level_i, the integer product
 * of an item's `bits`-bit code and the query's 4-bit levels, by bit-planes, then the estimate
 * itself from the item's factors, written as an f32 distance.
 *
 * S by 64-bit words: per word w of code plane j, t = sum_k 2^k popcnt(w AND query_k) and
 * S += t << j. Scalar i64 popcounts, not SIMD: V8 turns i8x16.popcnt into about nine
 * instructions on x86 (two table shuffles, their masks and constant loads), i64.popcnt into one,
 * and the Horner steps of t into lea. Four 1024-bit codes at a time from L1, Node 20 on an EPYC:
 * 16 ns per code against 22 for the i8x16 kernel this replaced (15 with i8x16 and i64 rows
 * mixed in a group: not worth two code paths). Exact integers, so the JS kernels (byte tables)
 * give the same S.
 *
 * The estimate, in f32 and in this order (RabitqEncoding.estimate is the same sum in JS):
 *   (add + constant) + (sign * rescale) * ((step * S + low * sx) - middleSum)
 *
 *   rabitqB{bits}Gather (q, ids, count, out, nbytes, factors)   out[j] = the estimate for item ids[j]
 *   rabitqB{bits}Group (q, ids, nbytes, factors, out, valid)    four items (ids[0..3]; from `valid` on, repeats of ids[0])
 *   rabitqB{bits}Row (same)                                     one item
 *
 * q: a query slot, QUERY_HEADER_BYTES of constants (f32 step, low, middleSum, constant, sign)
 * then QUERY_BITS planes per 128-component chunk (plane k of chunk i at 64i + 16k). Item i's
 * code at i * nbytes (`bits` planes per chunk, plane j at 16j), its FACTORS f32 at
 * factors + 20i. Gather scores four items per group call (their loads and popcounts are
 * independent chains the CPU overlaps, and each query word is loaded once for the four), a
 * last two or three as one padded group, a last one alone.
 */

/** Bits per code component the kernels cover. */
export const RABITQ_MAX_BITS = 8;
/** Bytes of a query slot before its planes: step, low, middleSum, constant, sign (f32), padded. */
export const QUERY_HEADER_BYTES = 32;
/** Items per group call. */
const GROUP = 4;

const i64 = {
  load: (offset: number) => [0x29, 3, ...uleb(offset)],
  and: [0x83],
  popcnt: [0x7b],
  add: [0x7c],
  shl: [0x86],
  const: (v: number) => [0x42, ...sleb(v)],
};
const F32_CONVERT_I64_S = [0xb4];
const I32_EQ = [0x46];

interface Locals {
  rows: number;
  q: number;
  nbytes: number;
  /** Per row: its code's address, its factors' address, its S. */
  x: Run;
  f: Run;
  acc: Run;
  qw: Run;
  w: number;
  ci: number;
  qi: number;
}

/** acc_r += S of one 64-bit word h (0, 1) of the current chunk, over the row's code planes. */
function wordStep(bits: number, l: Locals, r: number, h: number): number[][] {
  const out: number[][] = [];
  const pc = (k: number) => [op.get(l.w), op.get(l.qw(k)), i64.and, i64.popcnt];
  for (let j = 0; j < bits; j++) {
    out.push(op.get(l.x(r)), op.get(l.ci), op.i32Add, i64.load(16 * j + 8 * h), op.set(l.w));
    // Horner over the query planes: ((2 p3 + p2) 2 + p1) 2 + p0, shifted by the code plane.
    out.push(op.get(l.acc(r)));
    out.push(...pc(3), i64.const(1), i64.shl, ...pc(2), i64.add, i64.const(1), i64.shl, ...pc(1), i64.add, i64.const(1), i64.shl, ...pc(0), i64.add);
    if (j > 0) out.push(i64.const(j), i64.shl);
    out.push(i64.add, op.set(l.acc(r)));
  }
  return out;
}

/** Stores row r's estimate at out + 4r (header fields of the query slot by offset). */
function estimate(l: Locals, r: number, out: number): number[][] {
  const q = (offset: number) => [op.get(l.q), op.f32Load(offset)];
  const f = (offset: number) => [op.get(l.f(r)), op.f32Load(offset)];
  return [
    op.get(out),
    ...f(0), ...q(12), op.f32Add,
    ...q(16), ...f(4), op.f32Mul,
    ...q(0), op.get(l.acc(r)), F32_CONVERT_I64_S, op.f32Mul, ...q(4), ...f(8), op.f32Mul, op.f32Add, ...q(8), op.f32Sub,
    op.f32Mul, op.f32Add,
    op.f32Store(4 * r),
  ];
}

function rowsKernel(bits: number, rows: number) {
  return kernel({
    name: `rabitqB${bits}${rows === 1 ? 'Row' : 'Group'}`,
    params: ['q', 'ids', 'nbytes', 'factors', 'out', 'valid'],
    results: [],
    locals: { ci: I32, qi: I32, x: times(rows, I32), f: times(rows, I32), acc: times(rows, I64), qw: times(QUERY_BITS, I64), w: I64 },
    body: (v) => {
      const l: Locals = { ...v, rows };
      const body: number[][] = [];
      for (let r = 0; r < rows; r++) {
        // Entries from `valid` on repeat the first (a padded group): no read past the list.
        body.push(op.get(v.ids), ...(r === 0 ? [] : [op.i32(4 * r), op.i32(0), op.i32(r), op.get(v.valid), op.i32LtU, op.select, op.i32Add]));
        body.push(op.i32Load(), op.tee(v.x(r)), op.i32(20), op.i32Mul, op.get(v.factors), op.i32Add, op.set(v.f(r)));
        body.push(op.get(v.x(r)), op.get(v.nbytes), op.i32Mul, op.set(v.x(r)));
      }
      body.push(op.get(v.q), op.i32(QUERY_HEADER_BYTES), op.i32Add, op.set(v.qi));
      body.push(op.block, op.loop, op.get(v.ci), op.get(v.nbytes), op.i32GeU, op.brIf(1));
      for (let h = 0; h < 2; h++) {
        for (let k = 0; k < QUERY_BITS; k++) body.push(op.get(v.qi), i64.load(16 * k + 8 * h), op.set(v.qw(k)));
        for (let r = 0; r < rows; r++) body.push(...wordStep(bits, l, r, h));
      }
      body.push(op.get(v.ci), op.i32(16 * bits), op.i32Add, op.set(v.ci));
      body.push(op.get(v.qi), op.i32(16 * QUERY_BITS), op.i32Add, op.set(v.qi));
      body.push(op.br(0), op.end, op.end);
      for (let r = 0; r < rows; r++) {
        if (r > 0) body.push(op.i32(r), op.get(v.valid), op.i32LtU, op.if);
        body.push(...estimate(l, r, v.out));
        if (r > 0) body.push(op.end);
      }
      return body;
    },
  });
}

/**
 * The list loop: first a pass that loads the first and last byte of each item's code and the
 * first of its factors (their cache misses then overlap instead of each waiting behind the
 * previous item's arithmetic; loops.ts, touchRows; the last byte too measured a little faster
 * on bge 768-d, whose 1-bit codes span two lines), then groups of four, a padded group for a
 * last two or three, the row kernel for a last one.
 */
function gatherKernel(bits: number) {
  const group = `rabitqB${bits}Group`;
  const row = `rabitqB${bits}Row`;
  return kernel({
    name: `rabitqB${bits}Gather`,
    params: ['q', 'ids', 'count', 'out', 'nbytes', 'factors'],
    results: [],
    locals: { j: I32, row: I32, left: I32 },
    body: (v, call) => {
      const at = (list: number) => [op.get(list), op.get(v.j), op.i32(2), op.i32Shl, op.i32Add];
      const groupCall = (valid: number[][]) => [op.get(v.q), ...at(v.ids), op.get(v.nbytes), op.get(v.factors), ...at(v.out), ...valid];
      return [
        op.block, op.loop, op.get(v.j), op.get(v.count), op.i32GeU, op.brIf(1),
        ...at(v.out),
        ...at(v.ids), op.i32Load(), op.get(v.nbytes), op.i32Mul, op.tee(v.row), op.i32Load8u(),
        op.get(v.row), op.get(v.nbytes), op.i32Add, op.i32(1), op.i32Sub, op.i32Load8u(), op.i32Add,
        ...at(v.ids), op.i32Load(), op.i32(20), op.i32Mul, op.get(v.factors), op.i32Add, op.i32Load8u(), op.i32Add,
        op.i32Store(),
        op.get(v.j), op.i32(1), op.i32Add, op.set(v.j),
        op.br(0), op.end, op.end,
        op.i32(0), op.set(v.j),
        op.block, op.loop, op.get(v.j), op.i32(GROUP - 1), op.i32Add, op.get(v.count), op.i32GeU, op.brIf(1),
        ...groupCall([op.i32(GROUP)]), call(group),
        op.get(v.j), op.i32(GROUP), op.i32Add, op.set(v.j),
        op.br(0), op.end, op.end,
        op.get(v.count), op.get(v.j), op.i32Sub, op.tee(v.left), op.i32(2), op.i32GeU, op.if,
        ...groupCall([op.get(v.left)]), call(group),
        op.end,
        op.get(v.left), op.i32(1), I32_EQ, op.if,
        ...groupCall([op.i32(1)]), call(row),
        op.end,
      ];
    },
  });
}

/** One family per code width 1..RABITQ_MAX_BITS: row, group, gather. */
const RABITQ_KERNELS = Array.from({ length: RABITQ_MAX_BITS }, (_, b) => [rowsKernel(b + 1, 1), rowsKernel(b + 1, GROUP), gatherKernel(b + 1)]).flat();

type Gather = (q: number, ids: number, count: number, out: number, nbytes: number, factors: number) => void;

/** The kernels of one code width, bound to one memory. */
export interface RabitqKernels {
  /** out[j] (f32) = the estimated distance of item ids[j] (u32) for the query slot at q. */
  gather: Gather;
}

const modules = new Map<boolean, WebAssembly.Module | null>();

/**
 * The estimator kernels of `bits`-bit codes over `memory` (a module of their own beside the
 * shared kernel module, instantiated over the same memory), or null without SIMD.
 */
export function rabitqKernels(memory: WebAssembly.Memory, bits: number): RabitqKernels | null {
  const shared = typeof SharedArrayBuffer === 'function' && memory.buffer instanceof SharedArrayBuffer;
  let mod = modules.get(shared);
  if (mod === undefined) {
    mod = compileKernels(encodeModule(RABITQ_KERNELS, shared ? { maxPages: MAX_PAGES } : undefined), shared);
    modules.set(shared, mod);
  }
  if (mod === null) return null;
  const k = new WebAssembly.Instance(mod, { e: { m: memory } }).exports as Record<string, unknown>;
  return { gather: k[`rabitqB${bits}Gather`] as Gather };
}
