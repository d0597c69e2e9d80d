/**
 * Small seeded PRNG (SplitMix32 variant): builds must be reproducible from a seed, and
 * Math.random cannot be seeded.
 */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }
  /** Uniform in (0, 1]: never 0, so -log(x) is finite. */
  nextOpenUnit(): number {
    return (this.nextU32() + 1) / 4294967296;
  }
  /** Uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(((this.nextU32() >>> 0) / 4294967296) * n);
  }
}
