type Words = Uint8Array | Uint32Array | Float32Array;

/**
 * The undo log of one change that writes into an index's memory in place: every range of a
 * typed array (a link list, a node's level, a stored row) is saved before the change first
 * writes it, and `restore` puts them all back, so a change that fails halfway (a non-finite
 * distance found while linking, memory refused, a cancellation) leaves the index exactly as
 * it was. It costs a copy of what the change touches, never of the whole index.
 */
export class ChangeJournal {
  private readonly saved: { arr: Words; at: number; words: Words }[] = [];
  private readonly seen = new Map<Words, Set<number>>();

  /** Saves arr[at, at + length) unless this change saved that range of that array already. */
  save(arr: Words, at: number, length: number): void {
    let starts = this.seen.get(arr);
    if (starts === undefined) this.seen.set(arr, (starts = new Set()));
    if (starts.has(at)) return;
    starts.add(at);
    this.saved.push({ arr, at, words: arr.slice(at, at + length) });
  }

  /** Writes every saved range back, newest first (so the oldest copy of a range wins). */
  restore(): void {
    for (let i = this.saved.length - 1; i >= 0; i--) {
      const { arr, at, words } = this.saved[i]!;
      (arr as Uint32Array).set(words as Uint32Array, at);
    }
    this.saved.length = 0;
    this.seen.clear();
  }
}
