/**
 * Rearranges fixed-size rows of `a` in place so that row s takes what row `from[s]` held
 * (`from` a permutation of 0..rows-1), following each cycle with one row of scratch: a layout
 * change of a store or a graph costs no second copy of it.
 */
export function permuteRowsInPlace<T extends Float32Array | Uint32Array | Uint8Array>(a: T, stride: number, from: Uint32Array): void {
  const rows = from.length;
  const done = new Uint8Array(rows);
  const scratch = a.slice(0, stride) as T;
  for (let start = 0; start < rows; start++) {
    if (done[start] || from[start] === start) continue;
    scratch.set(a.subarray(start * stride, (start + 1) * stride));
    let at = start;
    for (;;) {
      done[at] = 1;
      const src = from[at]!;
      if (src === start) {
        a.set(scratch, at * stride);
        break;
      }
      a.copyWithin(at * stride, src * stride, (src + 1) * stride);
      at = src;
    }
  }
}
