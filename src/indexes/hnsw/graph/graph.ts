import { fail } from '../../../errors.js';
import { permuteRowsInPlace } from '../../../util/permute.js';
import { canShareMemory, isShared, sharedArray, toShared } from '../../../util/shared-memory.js';
import type { ChangeJournal } from './journal.js';

/**
 * The arrays of an HNSW graph, as worker threads receive them: views of SharedArrayBuffers,
 * so every thread reads (and the builder writes) one copy.
 */
export interface SharedGraph {
  readonly n: number;
  readonly m: number;
  readonly m0: number;
  readonly levels: Uint8Array;
  readonly level0: Uint32Array;
  readonly upperPool: Uint32Array;
  readonly upperAt: Uint32Array;
  readonly entryPoint: number;
  readonly maxLevel: number;
}

/**
 * HNSW graph storage in typed arrays, no per-node objects. Level 0 is one Uint32Array of
 * n x (m0 + 1) slots: slot 0 holds the neighbour count, then up to m0 ids. Upper levels exist
 * only for the ~1/m of nodes that reach them; they live in one pool (`upperPool`), node i's
 * lists at word `upperAt[i]`, level l at (l - 1) x (m + 1) from there. Node levels are known
 * before the graph is made (the builder draws them all first), so a build sizes the pool
 * once; a living index grows the graph with `grown` (spare room, reused in place).
 * Where SharedArrayBuffer exists the arrays are shared: worker threads search and build on
 * the same memory.
 */
export class HnswGraph {
  /** Nodes in the graph (one per slot, removed slots included). */
  readonly n: number;
  /** Links a node keeps on the levels above 0. */
  readonly m: number;
  /** Links a node keeps on level 0 (2m). */
  readonly m0: number;
  /** Each node's top level. */
  levels: Uint8Array;
  /** Level 0: per node m0 + 1 words, a count then up to m0 neighbour ids. */
  level0: Uint32Array;
  /** The link lists of the levels above 0, for the few nodes that have them (see upperAt). */
  upperPool: Uint32Array;
  /** Where a node's upper-level lists start in upperPool (level l at upperAt[node] + (l - 1)(m + 1)). */
  upperAt: Uint32Array;
  /** Node i's upper-level lists (a view into upperPool), undefined for level-0-only nodes. */
  upper: (Uint32Array | undefined)[];
  /** The node searches start from (on the top level); -1 while empty. */
  entryPoint = -1;
  /** The top level of the graph; -1 while empty. */
  maxLevel = -1;
  /**
   * While a change writes this graph's memory in place: where link lists are saved before
   * their first write (see ChangeJournal), so a failed change can be undone. Null otherwise
   * (a build, or a change working on a copy).
   */
  journal: ChangeJournal | null = null;

  /** The arrays behind the views, with spare room for a living index to grow into. */
  private room!: { levels: Uint8Array; level0: Uint32Array; pool: Uint32Array; upperAt: Uint32Array; poolTop: number };

  /**
   * An empty graph (no links) whose node levels are `levels`; `spare` reserves room for more
   * nodes (capacity) and upper-level words (see grown).
   */
  constructor(
    m: number,
    levels: Uint8Array,
    m0 = 2 * m,
    spare?: { capacity: number; poolWords: number },
    /** Link arrays to take as they are (a loader's sections) where their size and memory fit; copied otherwise. */
    adopt?: { level0: Uint32Array; pool: Uint32Array },
  ) {
    this.n = levels.length;
    this.m = m;
    this.m0 = m0;
    let words = 0;
    for (let i = 0; i < this.n; i++) words += levels[i]! * (m + 1);
    const capacity = Math.max(this.n, spare?.capacity ?? 0);
    const roomLevels = sharedArray(Uint8Array, capacity);
    roomLevels.set(levels);
    this.room = {
      levels: canShareMemory() || capacity > this.n ? roomLevels : levels,
      level0: adoptable(adopt?.level0, capacity * (m0 + 1)) ?? sharedArray(Uint32Array, capacity * (m0 + 1)),
      pool:
        adoptable(adopt?.pool, Math.max(words, spare?.poolWords ?? 0)) ?? sharedArray(Uint32Array, Math.max(words, spare?.poolWords ?? 0)),
      upperAt: sharedArray(Uint32Array, capacity),
      poolTop: words,
    };
    let at = 0;
    for (let i = 0; i < this.n; i++) {
      this.room.upperAt[i] = at;
      at += levels[i]! * (m + 1);
    }
    this.levels = this.level0 = this.upperPool = this.upperAt = undefined as never;
    this.viewRoom();
    this.upper = upperViews(this.n, this.levels, this.upperPool, this.upperAt, m);
  }

  /** A graph over arrays another thread shared (no copy). */
  static attach(s: SharedGraph): HnswGraph {
    const g = Object.create(HnswGraph.prototype) as HnswGraph;
    Object.assign(g, {
      n: s.n,
      m: s.m,
      m0: s.m0,
      levels: s.levels,
      level0: s.level0,
      upperPool: s.upperPool,
      upperAt: s.upperAt,
      room: { levels: s.levels, level0: s.level0, pool: s.upperPool, upperAt: s.upperAt, poolTop: s.upperPool.length },
    });
    g.upper = upperViews(s.n, s.levels, s.upperPool, s.upperAt, s.m);
    g.entryPoint = s.entryPoint;
    g.maxLevel = s.maxLevel;
    return g;
  }

  /**
   * The graph's arrays for worker threads. Arrays not yet on SharedArrayBuffers (a graph
   * loaded from a file) move there once; this graph then uses the shared copy too.
   */
  share(): SharedGraph {
    if (typeof SharedArrayBuffer !== 'function')
      fail('INVALID_ARGUMENT', 'this platform has no SharedArrayBuffer: the graph cannot be shared with worker threads');
    if (!isShared(this.level0) || !isShared(this.upperPool) || !isShared(this.levels) || !isShared(this.upperAt)) {
      this.levels = toShared(this.levels);
      this.level0 = toShared(this.level0);
      this.upperPool = toShared(this.upperPool);
      this.upperAt = toShared(this.upperAt);
      this.upper = upperViews(this.n, this.levels, this.upperPool, this.upperAt, this.m);
      // The shared copies are exact: no spare room any more.
      this.room = { levels: this.levels, level0: this.level0, pool: this.upperPool, upperAt: this.upperAt, poolTop: this.upperPool.length };
    }
    const { n, m, m0, levels, level0, upperPool, upperAt, entryPoint, maxLevel } = this;
    return { n, m, m0, levels, level0, upperPool, upperAt, entryPoint, maxLevel };
  }

  /**
   * This graph over `levels.length` nodes with these levels (a living index grows, and a
   * reused slot draws a new level): each node keeps its links on the levels it still has;
   * new nodes start unlinked; the entry point carries over. Returns a new graph object. With
   * `inPlace` (no other index uses these arrays) it shares this graph's memory when the
   * spare room allows, so a small change costs O(changed nodes), not O(n), and saves what it
   * overwrites in `journal`; otherwise it copies into arrays with room to grow by half again.
   * Lists laid out for new nodes start empty either way (spare room may hold what a failed
   * change wrote).
   */
  grown(levels: Uint8Array, inPlace: boolean, journal: ChangeJournal | null = null): HnswGraph {
    const n2 = levels.length;
    const stride = this.m + 1;
    const room = this.room;
    // Upper-level words for nodes that are new or climb above their old level.
    let extra = 0;
    for (let i = 0; i < n2; i++) if (i >= this.n || levels[i]! > this.levels[i]!) extra += levels[i]! * stride;
    if (inPlace && n2 <= room.levels.length && room.poolTop + extra <= room.pool.length) {
      const g = Object.create(HnswGraph.prototype) as HnswGraph;
      const upper = this.upper.slice(0, n2);
      let top = room.poolTop;
      for (let i = 0; i < n2; i++) {
        const old = i < this.n ? this.levels[i]! : 0;
        if (i < this.n && levels[i] === old) continue;
        if (i >= this.n || levels[i]! > old) {
          if (i < this.n) journal?.save(room.upperAt, i, 1);
          room.upperAt[i] = top;
          top += levels[i]! * stride;
        }
        upper[i] = levels[i]! > 0 ? room.pool.subarray(room.upperAt[i]!, room.upperAt[i]! + levels[i]! * stride) : undefined;
      }
      // Only now: the loop above compares with the old levels (this.levels views the room).
      for (let i = 0; i < n2; i++) {
        if (room.levels[i] === levels[i]) continue;
        if (i < this.n) journal?.save(room.levels, i, 1);
        room.levels[i] = levels[i]!;
      }
      // Beyond the old nodes and pool top no graph reads: clear what a failed change left there.
      if (n2 > this.n) room.level0.fill(0, this.n * (this.m0 + 1), n2 * (this.m0 + 1));
      room.pool.fill(0, room.poolTop, top);
      Object.assign(g, {
        n: n2,
        m: this.m,
        m0: this.m0,
        upper,
        entryPoint: this.entryPoint < n2 ? this.entryPoint : -1,
        journal,
        room: { ...room, poolTop: top },
      });
      g.maxLevel = g.entryPoint < 0 ? -1 : this.maxLevel;
      g.viewRoom();
      return g;
    }
    const capacity = n2 > this.n ? Math.ceil(n2 * 1.5) : n2;
    let words = 0;
    for (let i = 0; i < n2; i++) words += levels[i]! * stride;
    const g = new HnswGraph(this.m, levels, this.m0, { capacity, poolWords: n2 > this.n ? Math.ceil(words * 1.5) : words });
    const keep = Math.min(this.n, n2);
    g.level0.set(this.level0.subarray(0, keep * (this.m0 + 1)));
    for (let i = 0; i < keep; i++) {
      const l = Math.min(this.levels[i]!, levels[i]!);
      if (l > 0) g.upperPool.set(this.upperPool.subarray(this.upperAt[i]!, this.upperAt[i]! + l * stride), g.upperAt[i]!);
    }
    g.entryPoint = this.entryPoint < n2 ? this.entryPoint : -1;
    g.maxLevel = g.entryPoint < 0 ? -1 : this.maxLevel;
    return g;
  }

  /** The same graph as a new object over the same memory (a change in place gets a new identity: caches keyed by the graph, such as its GPU copy, then miss). */
  renewed(): HnswGraph {
    const g = Object.create(HnswGraph.prototype) as HnswGraph;
    Object.assign(g, this);
    g.journal = null;
    return g;
  }

  /**
   * The graph with its nodes renumbered: node `oldNodes[s]` becomes node s (every link
   * rewritten, level-0 lists moved, upper lists left where they are in the pool). With
   * `inPlace` (nothing else uses this graph) it rewrites this graph's memory, else a copy.
   * Returns a new graph object either way.
   */
  renumbered(oldNodes: Uint32Array, inPlace: boolean): HnswGraph {
    const n = this.n;
    if (oldNodes.length !== n) fail('INVALID_ARGUMENT', `a renumbering of ${oldNodes.length} nodes for a graph of ${n}`);
    // A copy gets its own levels array (grown may adopt the one it is given).
    const g = inPlace ? this.renewed() : this.grown(this.levels.slice(), false);
    const newOf = new Uint32Array(n);
    for (let s = 0; s < n; s++) newOf[oldNodes[s]!] = s;
    const relabel = (arr: Uint32Array, base: number) => {
      const count = arr[base]!;
      for (let i = 1; i <= count; i++) arr[base + i] = newOf[arr[base + i]!]!;
    };
    const stride0 = g.m0 + 1;
    for (let v = 0; v < n; v++) relabel(g.level0, v * stride0);
    for (let v = 0; v < n; v++) for (let l = 1; l <= g.levels[v]!; l++) relabel(g.upperPool, g.linkBase(v, l));
    permuteRowsInPlace(g.level0, stride0, oldNodes);
    permuteRowsInPlace(g.levels, 1, oldNodes);
    permuteRowsInPlace(g.upperAt, 1, oldNodes);
    g.upper = upperViews(n, g.levels, g.upperPool, g.upperAt, g.m);
    g.entryPoint = g.entryPoint < 0 ? -1 : newOf[g.entryPoint]!;
    return g;
  }

  /** Points the public views at the first n nodes (and used pool words) of the room. */
  private viewRoom(): void {
    const r = this.room;
    this.levels = r.levels.subarray(0, this.n);
    this.level0 = r.level0.subarray(0, this.n * (this.m0 + 1));
    this.upperAt = r.upperAt.subarray(0, this.n);
    this.upperPool = r.pool.subarray(0, r.poolTop);
  }

  /** The array holding node's links at `level` (count at linkBase, ids after it). */
  linkArray(_node: number, level: number): Uint32Array {
    return level === 0 ? this.level0 : this.upperPool;
  }

  /** Where node's link list at `level` starts in linkArray(node, level): the count, then the ids. */
  linkBase(node: number, level: number): number {
    return level === 0 ? node * (this.m0 + 1) : this.upperAt[node]! + (level - 1) * (this.m + 1);
  }

  /** Links a node may hold at `level`: m0 on level 0, m above. */
  maxLinks(level: number): number {
    return level === 0 ? this.m0 : this.m;
  }

  /** Replaces node's links at `level` with ids[0..count). */
  setLinks(node: number, level: number, ids: Uint32Array, count: number): void {
    const arr = this.linkArray(node, level);
    const base = this.linkBase(node, level);
    this.journal?.save(arr, base, this.maxLinks(level) + 1);
    arr[base] = count;
    for (let i = 0; i < count; i++) arr[base + 1 + i] = ids[i]!;
  }

  /** Empties node's list at `level`. */
  clearLinks(node: number, level: number): void {
    const arr = this.linkArray(node, level);
    const base = this.linkBase(node, level);
    this.journal?.save(arr, base, this.maxLinks(level) + 1);
    arr[base] = 0;
  }

  /** Bytes held by the graph: level 0, upper levels and the level of every node (spare room included). */
  get byteLength(): number {
    const r = this.room;
    return r.level0.byteLength + r.pool.byteLength + r.upperAt.byteLength + r.levels.byteLength;
  }

  /** Number of directed edges on level 0 (for diagnostics). */
  edgeCount(): number {
    let e = 0;
    const stride = this.m0 + 1;
    for (let i = 0; i < this.n; i++) e += this.level0[i * stride]!;
    return e;
  }
}

function upperViews(n: number, levels: Uint8Array, pool: Uint32Array, at: Uint32Array, m: number): (Uint32Array | undefined)[] {
  const views = new Array<Uint32Array | undefined>(n);
  for (let i = 0; i < n; i++) {
    const l = levels[i]!;
    if (l > 0) views[i] = pool.subarray(at[i]!, at[i]! + l * (m + 1));
  }
  return views;
}

/**
 * `a` itself when it is a whole buffer of exactly `length` words on the memory the graph would
 * allocate (shared where threads can share it): opening a large index then holds its links
 * once instead of reading them and copying them.
 */
function adoptable(a: Uint32Array | undefined, length: number): Uint32Array | null {
  if (a === undefined || a.length !== length || a.byteOffset !== 0 || a.buffer.byteLength !== length * 4) return null;
  return isShared(a) === canShareMemory() ? a : null;
}
