/**
 * HNSW graph storage in typed arrays, no per-node objects on level 0. Level 0 is one
 * Uint32Array of n x (m0 + 1) slots: slot 0 holds the neighbour count, then up to m0 ids.
 * Upper levels exist only for the ~1/m of nodes that reach them: such a node owns one
 * Uint32Array of level x (m + 1) slots, laid out the same way, level l at (l - 1) x (m + 1).
 */
export class HnswGraph {
  readonly n: number;
  readonly m: number;
  readonly m0: number;
  readonly levels: Uint8Array;
  readonly level0: Uint32Array;
  readonly upper: (Uint32Array | undefined)[];
  entryPoint = -1;
  maxLevel = -1;

  constructor(n: number, m: number, m0 = 2 * m) {
    this.n = n;
    this.m = m;
    this.m0 = m0;
    this.levels = new Uint8Array(n);
    this.level0 = new Uint32Array(n * (m0 + 1));
    this.upper = new Array<Uint32Array | undefined>(n);
  }

  /** Allocates a node's upper-level link lists. */
  setLevel(node: number, level: number): void {
    this.levels[node] = level;
    if (level > 0) this.upper[node] = new Uint32Array(level * (this.m + 1));
  }

  /** The array holding node's links at `level` (count at linkBase, ids after it). */
  linkArray(node: number, level: number): Uint32Array {
    return level === 0 ? this.level0 : this.upper[node]!;
  }

  linkBase(node: number, level: number): number {
    return level === 0 ? node * (this.m0 + 1) : (level - 1) * (this.m + 1);
  }

  maxLinks(level: number): number {
    return level === 0 ? this.m0 : this.m;
  }

  /** Replaces node's links at `level` with ids[0..count). */
  setLinks(node: number, level: number, ids: Uint32Array, count: number): void {
    const arr = this.linkArray(node, level);
    const base = this.linkBase(node, level);
    arr[base] = count;
    for (let i = 0; i < count; i++) arr[base + 1 + i] = ids[i]!;
  }

  /** Bytes held by the graph: level 0, upper levels and the level of every node. */
  get byteLength(): number {
    let bytes = this.level0.byteLength + this.levels.byteLength;
    for (const u of this.upper) if (u !== undefined) bytes += u.byteLength;
    return bytes;
  }

  /** Number of directed edges on level 0 (for diagnostics). */
  edgeCount(): number {
    let e = 0;
    const stride = this.m0 + 1;
    for (let i = 0; i < this.n; i++) e += this.level0[i * stride]!;
    return e;
  }
}
