import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script without type declarations
import { generate } from '../scripts/embed-shaders.mjs';
import { SHADER_SOURCES } from '../src/gpu/shader-sources.js';

describe('shaders embedded in the library', () => {
  it('src/gpu/shader-sources.ts is what the build generates from shaders/*.wgsl (not stale)', () => {
    const file = readFileSync(fileURLToPath(new URL('../src/gpu/shader-sources.js', import.meta.url)), 'utf8');
    expect(file, 'stale: run `npm run build`').toBe((generate as () => string)());
  });

  it('holds every shader, verbatim', () => {
    const dir = fileURLToPath(new URL('../shaders', import.meta.url));
    const names = readdirSync(dir).filter((f) => f.endsWith('.wgsl'));
    expect(Object.keys(SHADER_SOURCES).sort()).toEqual(names.map((f) => f.replace(/\.wgsl$/, '')).sort());
    for (const f of names) expect(SHADER_SOURCES[f.replace(/\.wgsl$/, '')]).toBe(readFileSync(dir + f, 'utf8'));
  });
});
