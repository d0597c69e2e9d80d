import type { VectorStore } from '../../../types.js';
import type { HnswGraph } from '../graph/graph.js';

/**
 * The link-writing half of HNSW insertion, shared by the serial builder and the parallel
 * batch builder: hnswlib's neighbour-selection heuristic, and adding a reverse link with
 * pruning when the list is full.
 *
 * A build's Linker also remembers, per level-0 list, how many of its leading links the
 * heuristic picked together (its "diverse prefix": each of them is closer to the list's node
 * than to any link before it). When a full list is pruned again, pairs inside that prefix
 * need no distance (the answer is already known), only pairs involving links appended since
 * and the new one. The selection is exactly the one the plain heuristic would make, with
 * fewer one-pair distances (bench/README.md, "Build: pruning skips checks it already knows"). It is
 * for one build's lifetime: links written by anything else (a repair, a later add) are not
 * tracked, so a living index's later inserts use a Linker without it.
 */
export class Linker {
  /** The heuristic's selection (written by select). */
  readonly selIds: Uint32Array;
  /** How many of the last select's picks passed the heuristic's check (0 when it took every candidate unchecked). */
  selDiverse = 0;
  private pruneIds: Uint32Array;
  private pruneDists: Float64Array;
  /** Per prune candidate: 1 when it is in the target's diverse prefix. */
  private pruneInPrefix: Uint8Array;
  /** Per pick of select: 1 when it came from the diverse prefix. */
  private selInPrefix: Uint8Array;
  /** Level-0 diverse prefix length per node, when this Linker tracks them. */
  private readonly diversePrefix: Uint16Array | null;

  constructor(
    private readonly store: VectorStore,
    private readonly graph: HnswGraph,
    private readonly keepPruned: boolean,
    trackDiversePrefix = false,
  ) {
    this.selIds = new Uint32Array(graph.m0 + 1);
    this.pruneIds = new Uint32Array(graph.m0 + 1);
    this.pruneDists = new Float64Array(graph.m0 + 1);
    this.pruneInPrefix = new Uint8Array(graph.m0 + 1);
    this.selInPrefix = new Uint8Array(graph.m0 + 1);
    this.diversePrefix = trackDiversePrefix ? new Uint16Array(graph.n) : null;
  }

  /**
   * hnswlib's heuristic: walk candidates best first and keep one only if it is closer to the
   * query than to every neighbour kept so far; this spreads links across directions and keeps
   * the graph navigable. Candidates must be sorted ascending. `inPrefix` (optional) marks
   * candidates known to pass against each other (see the class comment): their mutual checks
   * are skipped. Writes to selIds and selDiverse; returns the count.
   */
  select(ids: Uint32Array, dists: Float64Array, count: number, max: number, inPrefix: Uint8Array | null = null): number {
    const sel = this.selIds;
    if (count <= max) {
      for (let i = 0; i < count; i++) sel[i] = ids[i]!;
      this.selDiverse = 0;
      return count;
    }
    const selInPrefix = this.selInPrefix;
    let kept = 0;
    for (let i = 0; i < count && kept < max; i++) {
      const c = ids[i]!;
      const dc = dists[i]!;
      const cInPrefix = inPrefix !== null && inPrefix[i] === 1 ? 1 : 0;
      let good = true;
      // One evaluator per candidate, made on first need: for sparse stores it scatters c
      // once, then each kept neighbour costs a gather (much cheaper than merging id lists).
      let ev: ReturnType<VectorStore['itemEvaluator']> | null = null;
      for (let j = 0; j < kept; j++) {
        if (cInPrefix === 1 && selInPrefix[j] === 1) continue;
        ev ??= this.store.itemEvaluator(c);
        if (ev.distance(sel[j]!) < dc) {
          good = false;
          break;
        }
      }
      ev?.release?.();
      if (good) {
        selInPrefix[kept] = cInPrefix;
        sel[kept++] = c;
      }
    }
    this.selDiverse = kept;
    if (this.keepPruned) {
      // Refill up to `max` with the best candidates the heuristic dropped (the HNSW paper's
      // keepPrunedConnections): more links, better recall on hard (out-of-distribution) queries.
      for (let i = 0; i < count && kept < max; i++) {
        const c = ids[i]!;
        let taken = false;
        for (let j = 0; j < kept; j++)
          if (sel[j] === c) {
            taken = true;
            break;
          }
        if (!taken) sel[kept++] = c;
      }
    }
    return kept;
  }

  /**
   * Writes ids[0..count) as node's links at `level`; the first `diverse` of them passed the
   * heuristic together (selDiverse of the select that picked them; 0 when unknown).
   */
  setLinks(node: number, level: number, ids: Uint32Array, count: number, diverse: number): void {
    this.graph.setLinks(node, level, ids, count);
    if (level === 0 && this.diversePrefix !== null) this.diversePrefix[node] = diverse;
  }

  /** Adds `node` to the links of `target` at `level`, pruning with the heuristic when full. */
  connect(target: number, node: number, level: number): void {
    const g = this.graph;
    const arr = g.linkArray(target, level);
    const base = g.linkBase(target, level);
    const count = arr[base]!;
    const max = g.maxLinks(level);
    if (count < max) {
      // Appended after the diverse prefix, which stays as it was.
      g.journal?.save(arr, base, max + 1);
      arr[base + 1 + count] = node;
      arr[base] = count + 1;
      return;
    }
    const ids = this.pruneIds;
    const dists = this.pruneDists;
    const inPrefix = this.pruneInPrefix;
    const prefix = level === 0 && this.diversePrefix !== null ? this.diversePrefix[target]! : 0;
    for (let i = 0; i < count; i++) {
      ids[i] = arr[base + 1 + i]!;
      inPrefix[i] = i < prefix ? 1 : 0;
    }
    ids[count] = node;
    inPrefix[count] = 0;
    const ev = this.store.itemEvaluator(target);
    ev.distances(ids, count + 1, dists);
    ev.release?.();
    sortByDistance(ids, dists, count + 1, inPrefix);
    const kept = this.select(ids, dists, count + 1, max, prefix > 0 ? inPrefix : null);
    this.setLinks(target, level, this.selIds, kept, this.selDiverse);
  }
}

/** Insertion sort of small parallel arrays by distance, then id (`tags`, when given, move with them). */
export function sortByDistance(ids: Uint32Array, dists: Float64Array, n: number, tags: Uint8Array | null = null): void {
  for (let i = 1; i < n; i++) {
    const id = ids[i]!;
    const d = dists[i]!;
    const tag = tags === null ? 0 : tags[i]!;
    let j = i - 1;
    while (j >= 0 && (dists[j]! > d || (dists[j] === d && ids[j]! > id))) {
      ids[j + 1] = ids[j]!;
      dists[j + 1] = dists[j]!;
      if (tags !== null) tags[j + 1] = tags[j]!;
      j--;
    }
    ids[j + 1] = id;
    dists[j + 1] = d;
    if (tags !== null) tags[j + 1] = tag;
  }
}
