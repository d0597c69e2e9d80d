import { I32, op, uleb, V128 } from '../../wasm/encoder.js';
import { kernel, times } from '../../wasm/kernel.js';

/**
 * WebAssembly SIMD kernels that prepare a RaBitQ query: its rotation (ROTATION_ROUNDS rounds of
 * sign flips and Walsh-Hadamard transforms) and its quantization into 4-bit levels packed as
 * bit-planes. Every operation is an f32 operation of RabitqEncoding.prepareQuery's JS (the
 * reference; rotation.ts, rotateQuery32) in the same order, so both give the same bits:
 *
 *   rabitqRotate (x, c, signs, buf, nbytes, scale, minmax)
 *     buf (P f32) = scale * R (x - c): x and c are P f32 (zeros past the dimension), signs
 *     ROTATION_ROUNDS x P u32 sign masks (0 or 0x80000000; round 0's zero past the dimension);
 *     scale is the f32 scale's bits. minmax[0..1] = the smallest and largest component (f32).
 *   rabitqQuantize (buf, nbytes, planes, low, inv) -> sum of the levels
 *     level_i = min(15, roundEven((buf_i - low) * inv)) (low, inv: f32 bits), written as
 *     QUERY_BITS planes per 128-component chunk (plane k of chunk i at planes + 64i + 16k).
 *   rabitqFwht (buf, nbytes): the transform's levels across vectors (strides of 4 floats on).
 *
 * The transform's first two levels act inside one f32x4: lane pairs swapped by a shuffle, the
 * lanes that subtract negated by their sign bit, one add (a + b and b + a are the same float,
 * and a - b is a + (-b)). The others go two levels per pass (radix 4: the JS's radix-2 levels
 * give each element the same additions, and half the loads and stores), a last odd one alone.
 */

const simd = (code: number) => [0xfd, ...uleb(code)];
/** i8x16.shuffle of two f32x4 by lane (each lane's four bytes). */
const shuffleLanes = (lanes: readonly number[]) => [...simd(0x0d), ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3])];
/** A v128 constant of four i32 lanes. */
const v128Lanes = (lanes: readonly number[]) => [...simd(0x0c), ...lanes.flatMap((v) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff])];
const V128_XOR = simd(0x51);
const F32X4_PMIN = simd(0xea);
const F32X4_PMAX = simd(0xeb);
const F32X4_NEAREST = simd(0x6a);
const I32X4_TRUNC_SAT_F32X4_S = simd(0xf8);
const I32X4_SPLAT = simd(0x11);
const I32X4_MIN_S = simd(0xb6);
const I16X8_NARROW_I32X4_S = simd(0x85);
const I8X16_NARROW_I16X8_U = simd(0x66);
const I8X16_SHL = simd(0x6b);
const I8X16_BITMASK = simd(0x64);
const I32_STORE16 = (offset: number) => [0x3b, 1, ...uleb(offset)];
const I32_SHR_U = [0x76];
const F32_REINTERPRET_I32 = [0xbe];
const I32_LE_U = [0x4d];
const F32_MIN = [0x96];
const F32_MAX = [0x97];
const SIGN = 0x80000000 | 0;
/** Levels of a 4-bit query: 0 .. 15. */
const TOP_LEVEL = 15;

/** The transform's first two levels on the f32x4 in local v: [a+b, a-b, c+d, c-d], then across the halves. */
function inVector(v: number): number[][] {
  return [
    op.get(v), op.get(v), shuffleLanes([1, 0, 3, 2]), op.get(v), v128Lanes([0, SIGN, 0, SIGN]), V128_XOR, op.f32x4Add, op.set(v),
    op.get(v), op.get(v), shuffleLanes([2, 3, 0, 1]), op.get(v), v128Lanes([0, 0, SIGN, SIGN]), V128_XOR, op.f32x4Add, op.set(v),
  ];
}

/** A loop over byte offsets m = 0, 16, .. < end: body, then m += 16. */
function eachVector(m: number, end: number, body: number[][]): number[][] {
  return [op.i32(0), op.set(m), op.block, op.loop, op.get(m), op.get(end), op.i32GeU, op.brIf(1), ...body, op.get(m), op.i32(16), op.i32Add, op.set(m), op.br(0), op.end, op.end];
}

const fwhtKernel = kernel({
  name: 'rabitqFwht',
  params: ['buf', 'nbytes'],
  results: [],
  locals: { h: I32, i: I32, p: I32, end: I32, a: V128, b: V128, c: V128, d: V128 },
  body: (v) => {
    const at = (times: number) => [op.get(v.p), ...(times === 0 ? [] : [op.get(v.h), ...(times > 1 ? [op.i32(times), op.i32Mul] : []), op.i32Add])];
    const load = (times: number, into: number) => [...at(times), op.v128Load(), op.set(into)];
    const store = (times: number, value: number[][]) => [...at(times), ...value, op.v128Store()];
    return [
      op.i32(16), op.set(v.h),
      // Radix-4 passes while two levels are left: strides h and 2h.
      op.block, op.loop,
      op.get(v.h), op.i32(4), op.i32Mul, op.get(v.nbytes), op.i32GtU, op.brIf(1),
      op.i32(0), op.set(v.i),
      op.block, op.loop, op.get(v.i), op.get(v.nbytes), op.i32GeU, op.brIf(1),
      op.get(v.buf), op.get(v.i), op.i32Add, op.tee(v.p), op.get(v.h), op.i32Add, op.set(v.end),
      op.block, op.loop, op.get(v.p), op.get(v.end), op.i32GeU, op.brIf(1),
      ...load(0, v.a), ...load(1, v.b), ...load(2, v.c), ...load(3, v.d),
      // a, b, c, d <- a + b, a - b, c + d, c - d, then the second level across them.
      op.get(v.a), op.get(v.b), op.f32x4Add, op.get(v.a), op.get(v.b), op.f32x4Sub, op.set(v.b), op.set(v.a),
      op.get(v.c), op.get(v.d), op.f32x4Add, op.get(v.c), op.get(v.d), op.f32x4Sub, op.set(v.d), op.set(v.c),
      ...store(0, [op.get(v.a), op.get(v.c), op.f32x4Add]),
      ...store(1, [op.get(v.b), op.get(v.d), op.f32x4Add]),
      ...store(2, [op.get(v.a), op.get(v.c), op.f32x4Sub]),
      ...store(3, [op.get(v.b), op.get(v.d), op.f32x4Sub]),
      op.get(v.p), op.i32(16), op.i32Add, op.set(v.p),
      op.br(0), op.end, op.end,
      op.get(v.i), op.get(v.h), op.i32(4), op.i32Mul, op.i32Add, op.set(v.i),
      op.br(0), op.end, op.end,
      op.get(v.h), op.i32(4), op.i32Mul, op.set(v.h),
      op.br(0), op.end, op.end,
      // One level left (the top one, stride nbytes / 2): radix 2.
      op.get(v.h), op.i32(2), op.i32Mul, op.get(v.nbytes), I32_LE_U, op.if,
      op.get(v.buf), op.tee(v.p), op.get(v.h), op.i32Add, op.set(v.end),
      op.block, op.loop, op.get(v.p), op.get(v.end), op.i32GeU, op.brIf(1),
      ...load(0, v.a), ...load(1, v.b),
      ...store(0, [op.get(v.a), op.get(v.b), op.f32x4Add]),
      ...store(1, [op.get(v.a), op.get(v.b), op.f32x4Sub]),
      op.get(v.p), op.i32(16), op.i32Add, op.set(v.p),
      op.br(0), op.end, op.end,
      op.end,
    ];
  },
});

const ROUNDS = 3;

const rotateKernel = kernel({
  name: 'rabitqRotate',
  params: ['x', 'c', 'signs', 'buf', 'nbytes', 'scale', 'minmax'],
  results: [],
  locals: { m: I32, s: I32, r: I32, v: V128, sc: V128, lo: V128, hi: V128 },
  body: (v, call) => {
    const vec = (base: number) => [op.get(base), op.get(v.m), op.i32Add];
    const flip = [...vec(v.s), op.v128Load(), V128_XOR];
    const body: number[][] = [
      op.get(v.signs), op.set(v.s),
      ...eachVector(v.m, v.nbytes, [...vec(v.x), op.v128Load(), ...vec(v.c), op.v128Load(), op.f32x4Sub, ...flip, op.set(v.v), ...inVector(v.v), ...vec(v.buf), op.get(v.v), op.v128Store()]),
      op.get(v.buf), op.get(v.nbytes), call('rabitqFwht'),
    ];
    for (let r = 1; r < ROUNDS; r++) {
      body.push(op.get(v.s), op.get(v.nbytes), op.i32Add, op.set(v.s));
      body.push(...eachVector(v.m, v.nbytes, [...vec(v.buf), op.v128Load(), ...flip, op.set(v.v), ...inVector(v.v), ...vec(v.buf), op.get(v.v), op.v128Store()]));
      body.push(op.get(v.buf), op.get(v.nbytes), call('rabitqFwht'));
    }
    body.push(
      op.get(v.scale), F32_REINTERPRET_I32, op.f32x4Splat, op.set(v.sc),
      op.get(v.buf), op.v128Load(), op.get(v.sc), op.f32x4Mul, op.tee(v.lo), op.set(v.hi),
      ...eachVector(v.m, v.nbytes, [
        ...vec(v.buf), op.v128Load(), op.get(v.sc), op.f32x4Mul, op.set(v.v),
        ...vec(v.buf), op.get(v.v), op.v128Store(),
        op.get(v.lo), op.get(v.v), F32X4_PMIN, op.set(v.lo),
        op.get(v.hi), op.get(v.v), F32X4_PMAX, op.set(v.hi),
      ]),
    );
    for (const [local, reduce, offset] of [[v.lo, F32_MIN, 0], [v.hi, F32_MAX, 4]] as const) {
      body.push(op.get(v.minmax), op.get(local), op.f32x4Lane(0), op.get(local), op.f32x4Lane(1), reduce, op.get(local), op.f32x4Lane(2), reduce, op.get(local), op.f32x4Lane(3), reduce, op.f32Store(offset));
    }
    return body;
  },
});

const quantizeKernel = kernel({
  name: 'rabitqQuantize',
  params: ['buf', 'nbytes', 'planes', 'low', 'inv'],
  results: [I32],
  locals: { g: I32, at: I32, lowv: V128, invv: V128, top: V128, acc: V128, t: times(4, V128), n: V128 },
  body: (v) => {
    const level = (k: number) => [
      op.get(v.buf), op.get(v.g), op.i32Add, op.v128Load(16 * k), op.get(v.lowv), op.f32x4Sub, op.get(v.invv), op.f32x4Mul,
      F32X4_NEAREST, I32X4_TRUNC_SAT_F32X4_S, op.get(v.top), I32X4_MIN_S, op.tee(v.t(k)),
      op.get(v.acc), op.i32x4Add, op.set(v.acc),
    ];
    const body: number[][] = [
      op.get(v.low), F32_REINTERPRET_I32, op.f32x4Splat, op.set(v.lowv),
      op.get(v.inv), F32_REINTERPRET_I32, op.f32x4Splat, op.set(v.invv),
      op.i32(TOP_LEVEL), I32X4_SPLAT, op.set(v.top),
      // 16 components (64 bytes of buf) per step: their levels as bytes, then one bit-plane row each.
      op.block, op.loop, op.get(v.g), op.get(v.nbytes), op.i32GeU, op.brIf(1),
      ...level(0), ...level(1), ...level(2), ...level(3),
      op.get(v.t(0)), op.get(v.t(1)), I16X8_NARROW_I32X4_S, op.get(v.t(2)), op.get(v.t(3)), I16X8_NARROW_I32X4_S, I8X16_NARROW_I16X8_U, op.set(v.n),
      // Chunk g / 512 (128 components of 4 bytes) at 64 bytes each; 16 components are 2 bytes of a plane.
      op.get(v.planes), op.get(v.g), op.i32(9), I32_SHR_U, op.i32(64), op.i32Mul, op.i32Add,
      op.get(v.g), op.i32(6), I32_SHR_U, op.i32(7), op.i32And, op.i32(2), op.i32Mul, op.i32Add, op.set(v.at),
    ];
    for (let k = 0; k < 4; k++) body.push(op.get(v.at), op.get(v.n), op.i32(7 - k), I8X16_SHL, I8X16_BITMASK, I32_STORE16(16 * k));
    body.push(
      op.get(v.g), op.i32(64), op.i32Add, op.set(v.g),
      op.br(0), op.end, op.end,
      op.get(v.acc), op.i32x4Lane(0), op.get(v.acc), op.i32x4Lane(1), op.i32Add, op.get(v.acc), op.i32x4Lane(2), op.i32Add, op.get(v.acc), op.i32x4Lane(3), op.i32Add,
    );
    return body;
  },
});

/** The query kernels, in the RaBitQ module (wasm-kernels.ts). */
export const QUERY_KERNELS = [rotateKernel, quantizeKernel, fwhtKernel] as const;
