/**
 * Binary heaps over parallel typed arrays (ids, distances): no per-element objects, so the
 * hot loops of HNSW allocate nothing. `MinHeap` pops the smallest distance, `MaxHeap` the
 * largest. Capacity grows by doubling when needed.
 */
abstract class TypedHeap {
  ids: Uint32Array;
  dists: Float64Array;
  size = 0;
  constructor(capacity = 64) {
    this.ids = new Uint32Array(Math.max(4, capacity));
    this.dists = new Float64Array(Math.max(4, capacity));
  }
  clear(): void {
    this.size = 0;
  }
  /** Id at the root (smallest for MinHeap, largest for MaxHeap). */
  topId(): number {
    return this.ids[0]!;
  }
  topDist(): number {
    return this.dists[0]!;
  }
  protected grow(): void {
    const ids = new Uint32Array(this.ids.length * 2);
    ids.set(this.ids);
    const dists = new Float64Array(this.dists.length * 2);
    dists.set(this.dists);
    this.ids = ids;
    this.dists = dists;
  }
}

export class MinHeap extends TypedHeap {
  push(id: number, dist: number): void {
    if (this.size === this.ids.length) this.grow();
    const ids = this.ids;
    const dists = this.dists;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pd = dists[parent]!;
      if (pd <= dist) break;
      dists[i] = pd;
      ids[i] = ids[parent]!;
      i = parent;
    }
    dists[i] = dist;
    ids[i] = id;
  }
  /** Removes the root; read it first with topId()/topDist(). */
  pop(): void {
    const n = --this.size;
    if (n <= 0) return;
    const ids = this.ids;
    const dists = this.dists;
    const lastId = ids[n]!;
    const lastDist = dists[n]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && dists[child + 1]! < dists[child]!) child++;
      if (dists[child]! >= lastDist) break;
      dists[i] = dists[child]!;
      ids[i] = ids[child]!;
      i = child;
    }
    dists[i] = lastDist;
    ids[i] = lastId;
  }
}

export class MaxHeap extends TypedHeap {
  push(id: number, dist: number): void {
    if (this.size === this.ids.length) this.grow();
    const ids = this.ids;
    const dists = this.dists;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pd = dists[parent]!;
      if (pd >= dist) break;
      dists[i] = pd;
      ids[i] = ids[parent]!;
      i = parent;
    }
    dists[i] = dist;
    ids[i] = id;
  }
  pop(): void {
    const n = --this.size;
    if (n <= 0) return;
    const ids = this.ids;
    const dists = this.dists;
    const lastId = ids[n]!;
    const lastDist = dists[n]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && dists[child + 1]! > dists[child]!) child++;
      if (dists[child]! <= lastDist) break;
      dists[i] = dists[child]!;
      ids[i] = ids[child]!;
      i = child;
    }
    dists[i] = lastDist;
    ids[i] = lastId;
  }
  /**
   * Empties the heap into `ids`/`dists` sorted best (smallest) first; returns the count.
   * Ties are ordered by smaller id so results are deterministic.
   */
  drainSorted(ids: Uint32Array, dists: Float64Array): number {
    const n = this.size;
    for (let i = n - 1; i >= 0; i--) {
      ids[i] = this.topId();
      dists[i] = this.topDist();
      this.pop();
    }
    sortTiesById(ids, dists, n);
    return n;
  }
}

/** Within runs of equal distance, order ids ascending (insertion sort: runs are tiny). */
export function sortTiesById(ids: Uint32Array, dists: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) {
    if (dists[i] !== dists[i - 1]) continue;
    let j = i;
    while (j > 0 && dists[j - 1] === dists[j] && ids[j - 1]! > ids[j]!) {
      const t = ids[j]!;
      ids[j] = ids[j - 1]!;
      ids[j - 1] = t;
      j--;
    }
  }
}
