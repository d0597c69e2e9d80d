import { fail } from '../errors.js';
import type { SectionArray } from '../io/container.js';

/**
 * An integer in [min, max] from a store's header parameters; a file is never trusted, so the
 * message names the field and what it holds.
 */
export function intParam(params: Record<string, unknown>, key: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = params[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    fail('CORRUPT_FILE', `index header has an invalid store '${key}' (${JSON.stringify(v) ?? 'missing'}; expected an integer ${range})`);
  }
  return v;
}

/** A section of the element type a codec expects. */
export function typedSection<T extends SectionArray>(a: SectionArray, ctor: new (...args: never[]) => T, name: string): T {
  if (!(a instanceof ctor)) fail('CORRUPT_FILE', `section '${name}' has the wrong element type`);
  return a as T;
}

/** A section of exactly `length` elements of the type a codec expects. */
export function sizedSection<T extends SectionArray>(
  a: SectionArray,
  ctor: new (...args: never[]) => T,
  name: string,
  length: number | undefined,
): T {
  const typed = typedSection(a, ctor, name);
  if (length !== undefined && typed.length !== length)
    fail('CORRUPT_FILE', `section '${name}' holds ${typed.length} values, its header implies ${length}`);
  return typed;
}
