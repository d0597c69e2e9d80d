/**
 * A minimal WebAssembly binary encoder: just what the SIMD distance kernels need. Writing the
 * bytes directly keeps the kernels dependency-free (no toolchain, no .wasm asset to serve) and
 * works the same in Node and browsers.
 */

/** A WebAssembly value type (its byte in the binary format). */
export type ValType = 0x7f | 0x7e | 0x7d | 0x7b;
export const I32: ValType = 0x7f;
export const I64: ValType = 0x7e;
export const F32: ValType = 0x7d;
export const V128: ValType = 0x7b;

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

/** Instruction helpers (opcodes from the WebAssembly core and SIMD specs). */
export const op = {
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32And: [0x71],
  i32Shl: [0x74],
  i32GeU: [0x4f],
  i32LtU: [0x49],
  i32GtU: [0x4b],
  f32Const0: [0x43, 0, 0, 0, 0],
  f32Add: [0x92],
  f32Sub: [0x93],
  f32Mul: [0x94],
  /** Loads and stores carry (align exponent, offset); data here is 4-byte aligned. */
  i32Load: (offset = 0) => [0x28, 2, ...uleb(offset)],
  f32Load: (offset = 0) => [0x2a, 2, ...uleb(offset)],
  i32Load8u: (offset = 0) => [0x2d, 0, ...uleb(offset)],
  f32Store: (offset = 0) => [0x38, 2, ...uleb(offset)],
  i32Store: (offset = 0) => [0x36, 2, ...uleb(offset)],
  v128Load: (offset = 0) => [0xfd, ...uleb(0x00), 2, ...uleb(offset)],
  v128Store: (offset = 0) => [0xfd, ...uleb(0x0b), 2, ...uleb(offset)],
  v128Zero: [0xfd, ...uleb(0x0c), ...new Array<number>(16).fill(0)],
  f32x4Splat: [0xfd, ...uleb(0x13)],
  f32x4Neg: [0xfd, ...uleb(0xe1)],
  f32x4Add: [0xfd, ...uleb(0xe4)],
  f32x4Sub: [0xfd, ...uleb(0xe5)],
  f32x4Mul: [0xfd, ...uleb(0xe6)],
  f32x4Lane: (lane: number) => [0xfd, ...uleb(0x1f), lane],
  /** A v128 constant of four equal i32 lanes (bit patterns, so also f32 constants via f32Bits). */
  v128I32x4: (v: number) => [
    0xfd,
    ...uleb(0x0c),
    ...[0, 1, 2, 3].flatMap(() => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]),
  ],
  v128And: [0xfd, ...uleb(0x4e)],
  v128Or: [0xfd, ...uleb(0x50)],
  i16x8ExtendLowU8: [0xfd, ...uleb(0x89)],
  i16x8ExtendHighU8: [0xfd, ...uleb(0x8a)],
  i32x4ExtendLowS16: [0xfd, ...uleb(0xa7)],
  i32x4ExtendHighS16: [0xfd, ...uleb(0xa8)],
  i32x4ExtendLowU16: [0xfd, ...uleb(0xa9)],
  i32x4ExtendHighU16: [0xfd, ...uleb(0xaa)],
  i32x4Shl: [0xfd, ...uleb(0xab)],
  f32x4ConvertI32x4S: [0xfd, ...uleb(0xfa)],
  i32x4Add: [0xfd, ...uleb(0xae)],
  i32x4DotI16x8S: [0xfd, ...uleb(0xba)],
  i32x4Lane: (lane: number) => [0xfd, ...uleb(0x1b), lane],
  f32ConvertI32S: [0xb2],
  block: [0x02, 0x40],
  /** if ... end with no result (pops the i32 condition). */
  if: [0x04, 0x40],
  /** select: (a, b, cond) -> cond ? a : b. */
  select: [0x1b],
  loop: [0x03, 0x40],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  end: [0x0b],
};

/** The bit pattern of f32 `x` (for v128I32x4). */
export function f32Bits(x: number): number {
  return new Uint32Array(new Float32Array([x]).buffer)[0]!;
}

/** A `call` of function `index` (kernels call each other by name: kernel.ts resolves the index). */
export function callInstr(index: number): number[] {
  return [0x10, ...uleb(index)];
}

/**
 * One function as the binary format has it: types by position, locals after the params. Kernels
 * are not written this way (see kernel.ts, which names params, locals and callees); this is what
 * kernel.ts lowers them to.
 */
export interface EncodedFunc {
  name: string;
  params: readonly ValType[];
  results: readonly ValType[];
  locals: readonly ValType[];
  body: number[][];
}

/** wasm32 addresses 4 GiB (65536 pages); keep headroom for scratch and query slots. */
export const MAX_PAGES = 65536 - 1024;

/**
 * Encodes a module that imports its memory as ("e", "m") and exports every function. With
 * `shared`, the memory import is a shared memory of at most shared.maxPages (threads need
 * both: a shared memory must declare its maximum).
 */
export function encodeFunctions(funcs: readonly EncodedFunc[], shared?: { maxPages: number }): Uint8Array<ArrayBuffer> {
  const types = funcs.map((f) => [0x60, ...vec(f.params.map((p) => [p])), ...vec(f.results.map((r) => [r]))]);
  const limits = shared ? [0x03, ...uleb(1), ...uleb(shared.maxPages)] : [0x00, ...uleb(1)];
  const imports = [[...name('e'), ...name('m'), 0x02, ...limits]];
  const funcIdx = funcs.map((_, i) => uleb(i));
  const exports = funcs.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]);
  const codes = funcs.map((f) => {
    const localGroups = f.locals.map((t) => [1, t]);
    const body = [...vec(localGroups), ...f.body.flat(), 0x0b];
    return [...uleb(body.length), ...body];
  });
  const bytes = [
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(funcIdx)),
    ...section(7, vec(exports)),
    ...section(10, vec(codes)),
  ];
  return new Uint8Array(bytes);
}
