import { fail } from '../errors.js';
import type { SectionArray } from '../io/container.js';

/** A non-negative integer from a store's header parameters; a file is never trusted. */
export function intParam(params: Record<string, unknown>, key: string): number {
  const v = params[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail('CORRUPT_FILE', `index header has an invalid '${key}'`);
  return v;
}

/** A section of the element type a codec expects. */
export function typedSection<T extends SectionArray>(a: SectionArray, ctor: new (...args: never[]) => T, name: string): T {
  if (!(a instanceof ctor)) fail('CORRUPT_FILE', `section '${name}' has the wrong element type`);
  return a as T;
}
