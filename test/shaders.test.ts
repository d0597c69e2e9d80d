import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script without type declarations
import { generate } from '../scripts/embed-shaders.mjs';
import { bindingList, composedBindings, GPU_KERNELS, type GpuKernel, paramWords } from '../src/gpu/kernels.js';
import { SHADER_SOURCES } from '../src/gpu/shader-sources.js';

describe('shaders embedded in the library', () => {
  it('src/gpu/shader-sources.ts is what the build generates from shaders/*.wgsl (not stale)', () => {
    const file = readFileSync(fileURLToPath(new URL('../src/gpu/shader-sources.ts', import.meta.url)), 'utf8');
    expect(file, 'stale: run `npm run build`').toBe((generate as () => string)());
  });

  it('holds every shader, verbatim', () => {
    const dir = fileURLToPath(new URL('../shaders/', import.meta.url));
    const names = readdirSync(dir).filter((f) => f.endsWith('.wgsl'));
    expect(Object.keys(SHADER_SOURCES).sort()).toEqual(names.map((f) => f.replace(/\.wgsl$/, '')).sort());
    for (const f of names) expect(SHADER_SOURCES[f.replace(/\.wgsl$/, '')]).toBe(readFileSync(dir + f, 'utf8'));
  });
});

/** `struct Params` field names and types of a WGSL source, in order (null when it has none). */
function paramsStruct(wgsl: string): { name: string; type: string }[] | null {
  const m = /struct\s+Params\s*\{([^}]*)\}/.exec(wgsl);
  if (m === null) return null;
  return m[1]!
    .split('\n')
    .map((line) => line.replace(/\/\/.*$/, '').trim())
    .filter((line) => line !== '')
    .flatMap((line) => line.split(','))
    .map((field) => field.trim())
    .filter((field) => field !== '')
    .map((field) => {
      const [name, type] = field.split(':').map((s) => s.trim());
      return { name: name!, type: type! };
    });
}

/** The group-0 bindings a WGSL source declares: name -> binding number. */
function declaredBindings(wgsl: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = /@group\(0\)\s*@binding\((\d+)\)\s*var(?:<[^>]*>)?\s+(\w+)/g;
  for (let m = re.exec(wgsl); m !== null; m = re.exec(wgsl)) out[m[2]!] = Number(m[1]);
  return out;
}

describe('GPU kernel descriptors (src/gpu/kernels.ts) match the shaders', () => {
  const names = Object.keys(SHADER_SOURCES).sort();
  const descriptors = GPU_KERNELS as Record<string, GpuKernel>;

  it('every shader has a descriptor, and every descriptor a shader of its name', () => {
    expect(Object.keys(descriptors).sort()).toEqual(names);
    for (const [key, k] of Object.entries(descriptors)) expect(k.shader).toBe(key);
  });

  it("each descriptor lists its shader's struct Params fields, in order, all u32", () => {
    for (const name of names) {
      const fields = paramsStruct(SHADER_SOURCES[name]!);
      expect(fields?.map((f) => f.name) ?? [], name).toEqual([...descriptors[name]!.params]);
      for (const f of fields ?? []) expect(f.type, `${name} Params.${f.name}`).toBe('u32');
      if (fields !== null) expect(descriptors[name]!.main, `${name} has its own Params: it is not a snippet`).toBeUndefined();
    }
  });

  it("each descriptor lists its shader's bindings, and a Params struct is bound as the uniform `params`", () => {
    for (const name of names) {
      const wgsl = SHADER_SOURCES[name]!;
      expect(declaredBindings(wgsl), name).toEqual(descriptors[name]!.bindings);
      if (paramsStruct(wgsl) !== null) expect(wgsl, name).toMatch(/@binding\(\d+\)\s*var<uniform>\s+params\s*:\s*Params;/);
    }
  });

  it('a snippet and its main share no binding and together bind 0..n-1; every params.x read is a field of the Params in scope', () => {
    const mains = new Set(Object.values(descriptors).map((k) => k.main));
    for (const name of names) {
      const k = descriptors[name]!;
      const bindings = composedBindings(k);
      // A main (row_pairs, beam_resident) is only ever compiled with one of its snippets.
      if (!mains.has(name)) expect(bindings, name).toEqual(bindings.map((_, i) => i));
      const fields = new Set(descriptors[k.main ?? name]!.params);
      for (const m of SHADER_SOURCES[name]!.matchAll(/\bparams\.(\w+)/g)) expect(fields.has(m[1]!), `${name}: params.${m[1]}`).toBe(true);
    }
  });
});

describe('GPU Params blocks and binding lists are written by name', () => {
  it('paramWords writes the fields in WGSL order, padding 0', () => {
    const words = paramWords(GPU_KERNELS.pq_adc_pairs, { count: 7, m: 96, wordsPerRow: 24, groupsX: 3, base: 5 });
    expect(Array.from(words)).toEqual([7, 96, 24, 3, 5, 0, 0, 0]);
    const beam = paramWords(GPU_KERNELS.beam_resident, {
      queryCount: 1,
      queryBase: 2,
      slotBase: 3,
      groupsX: 4,
      ef: 5,
      outK: 6,
      entry: 7,
      maxLevel: 8,
      maxIters: 9,
    });
    expect(Array.from(beam)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0]);
  });

  it('a missing, unknown or padding field, or a value that is not a u32, is an error naming the kernel', () => {
    const topk = GPU_KERNELS.topk;
    expect(() => paramWords(topk, { len: 1, segs: 1, k: 1 } as never)).toThrow(/topk Params.implicitIds was not given/);
    expect(() => paramWords(topk, { len: 1, segs: 1, k: 1, implicitIds: 0, maxIters: 3 } as never)).toThrow(
      /topk has no Params field 'maxIters'/,
    );
    expect(() => paramWords(GPU_KERNELS.expand_pairs, { total: 1, m0: 2, groupsX: 3, _pad: 0 } as never)).toThrow(/no Params field '_pad'/);
    expect(() => paramWords(topk, { len: -1, segs: 1, k: 1, implicitIds: 0 })).toThrow(/topk Params.len = -1 is not a u32/);
    expect(() => paramWords(topk, { len: 1.5, segs: 1, k: 1, implicitIds: 0 })).toThrow(/is not a u32/);
  });

  it('bindingList orders buffers by binding and rejects a missing or unknown name', () => {
    const b = (label: string) => ({ label }) as GPUBuffer;
    const [graph0, expansions, pairs, params] = [b('g'), b('e'), b('p'), b('u')];
    const kernel = GPU_KERNELS.expand_pairs;
    expect(bindingList(kernel, { params, pairs, graph0, expansions })).toEqual([graph0, expansions, pairs, params]);
    expect(() => bindingList(kernel, { graph0, expansions, pairs } as never)).toThrow(/expand_pairs binding 'params' was not given/);
    expect(() => bindingList(kernel, { graph0, expansions, pairs, params, extra: params } as never)).toThrow(/has no binding 'extra'/);
    // A snippet's own bindings do not start at 0: it is bound with its main.
    expect(() => bindingList(GPU_KERNELS.resident_dense, { queries: params })).toThrow(/leaves binding 0 open/);
  });
});
