/** CRC-32 (IEEE, as zlib/PNG): guards index files against truncation and bit rot. */
let table: Uint32Array | null = null;

function makeTable(): Uint32Array {
  const t = new Uint32Array(256 * 8);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  // Slicing-by-8 tables: table s advances a byte through s more zero bytes.
  for (let s = 1; s < 8; s++)
    for (let i = 0; i < 256; i++) t[s * 256 + i] = (t[t[(s - 1) * 256 + i]! & 0xff]! ^ (t[(s - 1) * 256 + i]! >>> 8)) >>> 0;
  return t;
}

/**
 * The CRC of `bytes`, continuing `seed` (the CRC of the bytes before them). Large inputs run
 * through a small WebAssembly kernel (slicing-by-8, about 2.5x the JS loop: opening an index
 * checks every byte of the file), small ones and platforms without WebAssembly in JS.
 */
export function crc32(bytes: Uint8Array, seed = 0): number {
  const t = (table ??= makeTable());
  let c = ~seed >>> 0;
  let i = 0;
  if (bytes.length >= WASM_FROM) {
    const kernel = wasmKernel(t);
    if (kernel) {
      // Arithmetic, not `& ~7`: bitwise operators wrap lengths of 2 GiB and more to 32-bit integers.
      const end8 = bytes.length - (bytes.length % 8);
      for (; i < end8; i += STAGE_BYTES) {
        const piece = bytes.subarray(i, Math.min(end8, i + STAGE_BYTES));
        kernel.stage.set(piece);
        c = kernel.run(STAGE_AT, STAGE_AT + piece.length, c) >>> 0;
      }
      i = end8;
    }
  }
  const end4 = bytes.length - (bytes.length % 4);
  for (; i < end4; i += 4) {
    c ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    c = t[768 + (c & 0xff)]! ^ t[512 + ((c >>> 8) & 0xff)]! ^ t[256 + ((c >>> 16) & 0xff)]! ^ t[(c >>> 24) & 0xff]!;
  }
  for (; i < bytes.length; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** Below this the JS loop is as fast (no copy into the kernel's memory). */
const WASM_FROM = 16384;
/** The kernel's memory: the eight tables (8 KiB), then the bytes it is given, a piece at a time. */
const STAGE_AT = 8192;
const STAGE_BYTES = 1 << 20;

/**
 * crc8(p, end, c) -> c: 8 bytes per step from p to end (a multiple of 8 apart), the tables at
 * address 0, the state not inverted (the caller inverts). Its text format:
 *
 *   (func (param $p i32) (param $end i32) (param $c i32) (result i32) (local $a i32) (local $b i32)
 *     (block (loop
 *       (br_if 1 (i32.ge_u $p $end))
 *       $a = (i32.load $p) ^ $c   $b = (i32.load offset=4 $p)
 *       $c = T7[$a & 255] ^ T6[$a >> 8 & 255] ^ T5[$a >> 16 & 255] ^ T4[$a >> 24]
 *          ^ T3[$b & 255] ^ T2[$b >> 8 & 255] ^ T1[$b >> 16 & 255] ^ T0[$b >> 24]
 *       $p += 8  (br 0)))
 *     $c)
 *
 * (each Ts[x] an i32.load offset=1024*s of ((x << 2) & 1020), shifts folded in); encoded with
 * src/quant/wasm/encoder.ts, which the io layer may not import.
 */
const KERNEL_BASE64 =
  'AGFzbQEAAAABCAFgA39/fwF/AggBAWUBbQIAAQMCAQAHCAEEY3JjOAAACqIBAZ8BAgF/AX8CQANAIAAgAU8NASAAKAIAIAJzIQMgACgCBCEEIANBAnRB/AdxKAKAOCADQQZ2QfwHcSgCgDBzIANBDnZB/AdxKAKAKHMgA0EWdkH8B3EoAoAgcyAEQQJ0QfwHcSgCgBhzIARBBnZB/AdxKAKAEHMgBEEOdkH8B3EoAoAIcyAEQRZ2QfwHcSgCAHMhAiAAQQhqIQAMAAsLIAIL';

interface Kernel {
  run(p: number, end: number, c: number): number;
  stage: Uint8Array;
}
/** The kernel once made; null where WebAssembly is missing or refused (the JS loop then). */
let kernel: Kernel | null | undefined;

function wasmKernel(t: Uint32Array): Kernel | null {
  if (kernel !== undefined) return kernel;
  kernel = null;
  try {
    const bytes = Uint8Array.from(atob(KERNEL_BASE64), (ch) => ch.charCodeAt(0));
    const memory = new WebAssembly.Memory({ initial: Math.ceil((STAGE_AT + STAGE_BYTES) / 65536) });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { e: { m: memory } });
    new Uint32Array(memory.buffer, 0, t.length).set(t);
    const run = instance.exports['crc8'] as (p: number, end: number, c: number) => number;
    kernel = { run, stage: new Uint8Array(memory.buffer, STAGE_AT, STAGE_BYTES) };
  } catch {
    // No WebAssembly (or a policy against compiling it): the JS loop below is correct, only slower.
  }
  return kernel;
}
