import { F32, I32, MAX_PAGES, op, uleb, V128 } from '../wasm/encoder.js';
import { encodeModule, type KernelExports, kernel, type Run, times } from '../wasm/kernel.js';
import { compileKernels } from '../wasm/kernels-wasm.js';
import { GROUP_ROWS, gatherKernel, pairsKernel } from '../wasm/loops.js';
import { QUERY_BITS } from './encoding.js';

/**
 * WebAssembly SIMD kernels of the RaBitQ estimator: S = sum_i x_u_i * level_i, the integer
 * product of an item's `bits`-bit code and the query's 4-bit levels, by bit-planes. Per
 * 128-component chunk and code plane j: t = sum_k 2^k popcnt(code_j AND query_k) in each byte
 * (at most 8 * 15 = 120: no overflow), widened pairwise to i16, shifted by j and summed over
 * the planes (at most 240 * 255 < 2^16), widened to i32 and accumulated. Exact integers, so the
 * JS kernels (byte tables) give the same S and the caller combines it with the factors alike.
 *
 *   rabitqB{bits} (q, x, nbytes) -> S as the f32 with S's bits (read back as u32)
 *   ...Group / ...PairGroup / ...Gather / ...Pairs: the loops of loops.ts, S stored as u32
 *
 * The query: QUERY_BITS planes per chunk, 64 bytes (plane k at 16k); an item: `bits` planes per
 * chunk, 16 * bits bytes (plane j at 16j); nbytes is the item's code bytes.
 */

/** SIMD opcodes the shared encoder has no name for (WebAssembly SIMD spec numbering). */
const simd = (code: number) => [0xfd, ...uleb(code)];
const I8X16_POPCNT = simd(0x62);
const I8X16_ADD = simd(0x6e);
const I16X8_EXTADD_PAIRWISE_I8X16_U = simd(0x7d);
const I32X4_EXTADD_PAIRWISE_I16X8_U = simd(0x7f);
const I16X8_SHL = simd(0x8b);
const I16X8_ADD = simd(0x8e);
const F32_REINTERPRET_I32 = [0xbe];

/** Bits per code component the kernels cover. */
export const RABITQ_MAX_BITS = 8;

interface Locals {
  rows: number;
  shared: boolean;
  q: Run;
  x: Run;
  nbytes: number;
  group: { out: number; valid: number } | null;
  acc: Run;
  qv: Run;
  c: number;
  t: number;
  s16: number;
  ci: number;
  qi: number;
}

/** Loads the four query planes of the current chunk (row r's query) into qv. */
function loadQuery(l: Locals, r: number): number[][] {
  const out: number[][] = [];
  for (let k = 0; k < QUERY_BITS; k++) out.push(op.get(l.q(r)), op.get(l.qi), op.i32Add, op.v128Load(16 * k), op.set(l.qv(k)));
  return out;
}

/** acc_r += the chunk's sum over code planes j of 2^j sum_k 2^k popcnt(code_j & q_k), lane-wise. */
function rowStep(bits: number, l: Locals, r: number): number[][] {
  const out: number[][] = l.shared ? [] : loadQuery(l, r);
  const popcnt = (k: number) => [op.get(l.c), op.get(l.qv(k)), op.v128And, I8X16_POPCNT];
  for (let j = 0; j < bits; j++) {
    out.push(op.get(l.x(r)), op.get(l.ci), op.i32Add, op.v128Load(16 * j), op.set(l.c));
    // Horner over the query planes, in bytes: ((2 p3 + p2) 2 + p1) 2 + p0.
    out.push(...popcnt(3), op.tee(l.t), op.get(l.t), I8X16_ADD);
    out.push(...popcnt(2), I8X16_ADD, op.tee(l.t), op.get(l.t), I8X16_ADD);
    out.push(...popcnt(1), I8X16_ADD, op.tee(l.t), op.get(l.t), I8X16_ADD);
    out.push(...popcnt(0), I8X16_ADD, I16X8_EXTADD_PAIRWISE_I8X16_U);
    if (j > 0) out.push(op.i32(j), I16X8_SHL, op.get(l.s16), I16X8_ADD);
    out.push(op.set(l.s16));
  }
  out.push(op.get(l.acc(r)), op.get(l.s16), I32X4_EXTADD_PAIRWISE_I16X8_U, op.i32x4Add, op.set(l.acc(r)));
  return out;
}

function rowsBody(bits: number, l: Locals): number[][] {
  const body: number[][] = [op.block, op.loop, op.get(l.ci), op.get(l.nbytes), op.i32GeU, op.brIf(1)];
  if (l.shared) body.push(...loadQuery(l, 0));
  for (let r = 0; r < l.rows; r++) body.push(...rowStep(bits, l, r));
  body.push(
    op.get(l.ci), op.i32(16 * bits), op.i32Add, op.set(l.ci),
    op.get(l.qi), op.i32(16 * QUERY_BITS), op.i32Add, op.set(l.qi),
    op.br(0), op.end, op.end,
  );
  for (let r = 0; r < l.rows; r++) {
    const a = l.acc(r);
    if (l.group !== null) body.push(op.i32(r), op.get(l.group.valid), op.i32LtU, op.if, op.get(l.group.out));
    body.push(op.get(a), op.i32x4Lane(0), op.get(a), op.i32x4Lane(1), op.i32Add, op.get(a), op.i32x4Lane(2), op.i32Add, op.get(a), op.i32x4Lane(3), op.i32Add);
    if (l.group !== null) body.push(op.i32Store(4 * r), op.end);
    else body.push(F32_REINTERPRET_I32);
  }
  return body;
}

const rowsLocals = (rows: number) => ({ ci: I32, qi: I32, c: V128, t: V128, s16: V128, acc: times(rows, V128), qv: times(QUERY_BITS, V128) });

function family(bits: number) {
  const name = `rabitqB${bits}`;
  const row = kernel({
    name,
    params: ['q', 'x', 'nbytes'],
    results: [F32],
    locals: rowsLocals(1),
    body: (v) => rowsBody(bits, { ...v, rows: 1, shared: true, q: () => v.q, x: () => v.x, group: null }),
  });
  const group = (shared: boolean) =>
    kernel({
      name: `${name}${shared ? 'Group' : 'PairGroup'}`,
      params: [['q', shared ? 1 : GROUP_ROWS], ['x', GROUP_ROWS], 'nbytes', 'out', 'valid'],
      results: [],
      locals: rowsLocals(GROUP_ROWS),
      body: (v) =>
        rowsBody(bits, { ...v, rows: GROUP_ROWS, shared, q: (r) => v.q(shared ? 0 : r), group: { out: v.out, valid: v.valid } }),
    });
  return [row, group(true), group(false), gatherKernel(`${name}Gather`, `${name}Group`, name), pairsKernel(`${name}Pairs`, `${name}PairGroup`, name)];
}

/** One family per code width 1..RABITQ_MAX_BITS: row, group, pair group, gather, pairs. */
const RABITQ_KERNELS = Array.from({ length: RABITQ_MAX_BITS }, (_, b) => family(b + 1)).flat();

type Gather = (q: number, base: number, nbytes: number, ids: number, count: number, out: number) => void;
type Pairs = (qbase: number, qstride: number, base: number, nbytes: number, slots: number, ids: number, count: number, out: number) => void;

/** The kernels of one code width, bound to one memory. */
export interface RabitqKernels {
  one: (q: number, x: number, nbytes: number) => number;
  gather: Gather;
  pairs: Pairs;
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
  const k = new WebAssembly.Instance(mod, { e: { m: memory } }).exports as unknown as KernelExports<typeof RABITQ_KERNELS> &
    Record<string, unknown>;
  const name = `rabitqB${bits}`;
  const one = k[name] as (q: number, x: number, nbytes: number) => number;
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  return {
    one: (q, x, nbytes) => {
      f32[0] = one(q, x, nbytes);
      return u32[0]!;
    },
    gather: k[`${name}Gather`] as Gather,
    pairs: k[`${name}Pairs`] as Pairs,
  };
}
