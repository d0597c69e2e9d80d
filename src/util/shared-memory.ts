/**
 * Memory that worker threads can share. In Node SharedArrayBuffer always exists; in a browser
 * only on a cross-origin isolated page (COOP/COEP headers). Where it is missing, everything
 * still works on ordinary buffers, on one thread.
 */
export function canShareMemory(): boolean {
  if (typeof SharedArrayBuffer !== 'function') return false;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  return isolated !== false;
}

type TypedArrayCtor<T> = { new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): T; readonly BYTES_PER_ELEMENT: number };

/** A zeroed typed array of `length` elements, on a SharedArrayBuffer when one can be made. */
export function sharedArray<T>(ctor: TypedArrayCtor<T>, length: number): T {
  const bytes = length * ctor.BYTES_PER_ELEMENT;
  const buffer = canShareMemory() ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  return new ctor(buffer, 0, length);
}

/** True when `a` lives on a SharedArrayBuffer. */
export function isShared(a: ArrayBufferView): boolean {
  return typeof SharedArrayBuffer === 'function' && a.buffer instanceof SharedArrayBuffer;
}

/** `a` itself when it is shared already, else a copy on a SharedArrayBuffer. */
export function toShared<T extends Uint8Array | Uint32Array | Int32Array | Float32Array>(a: T): T {
  if (isShared(a)) return a;
  const ctor = a.constructor as unknown as TypedArrayCtor<T>;
  const copy = new ctor(new SharedArrayBuffer(a.byteLength), 0, a.length);
  (copy as unknown as { set(src: ArrayLike<number>): void }).set(a);
  return copy;
}
