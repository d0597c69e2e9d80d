import { encodeModule } from '../wasm/kernel.js';
import { compileKernels } from '../wasm/kernels-wasm.js';
import { quantizationStep } from './prepared-query.js';
import { QUERY_KERNELS } from './query/wasm-kernels.js';
import { type HadamardRotation, ROTATION_ROUNDS } from './rotation.js';

const f32Cell = new Float32Array(1);
const u32Cell = new Uint32Array(f32Cell.buffer);

/** The bits of f32(x), as the kernels take f32 parameters. */
function f32Bits(x: number): number {
  f32Cell[0] = x;
  return u32Cell[0]!;
}

/** A query rotated and quantized: its planes (a fresh array) and what the estimate needs of its quantization. */
export interface QuantizedQuery {
  readonly planes: Uint32Array;
  readonly low: number;
  readonly step: number;
  readonly levelSum: number;
}

type QueryExports = {
  rabitqRotate: (x: number, c: number, signs: number, buf: number, nbytes: number, scale: number, minmax: number) => void;
  rabitqQuantize: (buf: number, nbytes: number, planes: number, low: number, inv: number) => number;
};

let compiled: WebAssembly.Module | null | undefined;

/**
 * Prepares queries with the SIMD kernels (query/wasm-kernels.ts) on a small memory of its own: the
 * same bits as RabitqEncoding.prepareQueryJs, its reference, at a fraction of the time (three
 * Hadamard transforms of P components in JS were most of a 768-d query's cost). The memory
 * holds the query padded to P, the centroid padded to P, the rounds' sign masks, the rotated
 * query, its extremes and its planes. One per encoding: an encoding is one thread's.
 */
export class WasmQueryPreparer {
  private readonly nbytes: number;
  private readonly words: number;
  private readonly memory: WebAssembly.Memory;
  private readonly k: QueryExports;
  private readonly f32: Float32Array;
  private readonly u32: Uint32Array;
  private readonly scaleBits: number;
  // Byte offsets of the regions.
  private readonly x = 0;
  private readonly centroid: number;
  private readonly signs: number;
  private readonly buf: number;
  private readonly minmax: number;
  private readonly planes: number;

  private constructor(mod: WebAssembly.Module, centroid: Float32Array, rotation: HadamardRotation, queryBytes: number) {
    const P = rotation.paddedDim;
    this.nbytes = 4 * P;
    this.words = queryBytes / 4;
    this.centroid = this.nbytes;
    this.signs = 2 * this.nbytes;
    this.buf = (2 + ROTATION_ROUNDS) * this.nbytes;
    this.minmax = this.buf + this.nbytes;
    this.planes = this.minmax + 16;
    this.memory = new WebAssembly.Memory({ initial: Math.ceil((this.planes + queryBytes) / 65536) });
    this.k = new WebAssembly.Instance(mod, { e: { m: this.memory } }).exports as unknown as QueryExports;
    this.f32 = new Float32Array(this.memory.buffer);
    this.u32 = new Uint32Array(this.memory.buffer);
    // The memory starts zeroed: the padding past the dimension stays zero.
    this.f32.set(centroid, this.centroid >>> 2);
    this.u32.set(rotation.signMasks(), this.signs >>> 2);
    this.scaleBits = f32Bits(rotation.scale);
  }

  /** A preparer for queries around `centroid` under `rotation`, or null without WebAssembly SIMD. */
  static create(centroid: Float32Array, rotation: HadamardRotation, queryBytes: number): WasmQueryPreparer | null {
    if (compiled === undefined) compiled = compileKernels(encodeModule(QUERY_KERNELS), false);
    return compiled === null ? null : new WasmQueryPreparer(compiled, centroid, rotation, queryBytes);
  }

  /** `query` (of the rotation's dimension) rotated and quantized. */
  prepare(query: Float32Array): QuantizedQuery {
    const { f32, nbytes, k } = this;
    f32.set(query, this.x >>> 2);
    k.rabitqRotate(this.x, this.centroid, this.signs, this.buf, nbytes, this.scaleBits, this.minmax);
    const { low, step, inv } = quantizationStep(f32[this.minmax >>> 2]!, f32[(this.minmax >>> 2) + 1]!);
    const levelSum = this.k.rabitqQuantize(this.buf, nbytes, this.planes, f32Bits(low), f32Bits(inv));
    const at = this.planes >>> 2;
    return { planes: this.u32.slice(at, at + this.words), low, step, levelSum };
  }
}
