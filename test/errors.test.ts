import { describe, expect, it } from 'vitest';
import { DenseDataset, FlatIndex, HnswIndex, SparseDataset, WebannoloError } from '../src/index.js';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(WebannoloError);
    return (e as WebannoloError).code;
  }
  throw new Error('expected a WebannoloError');
}

async function codeAsync(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(WebannoloError);
    return (e as WebannoloError).code;
  }
  throw new Error('expected a WebannoloError');
}

const data = new DenseDataset(
  Float32Array.from({ length: 400 }, (_, i) => Math.sin(i)),
  4,
);
const index = HnswIndex.build(data, { metric: 'l2', m: 4, efConstruction: 20 });

describe('bad input gets a clear error', () => {
  it('datasets', () => {
    expect(code(() => new DenseDataset(new Float32Array(0), 4))).toBe('EMPTY_DATA');
    expect(code(() => new DenseDataset(new Float32Array(7), 4))).toBe('DIMENSION_MISMATCH');
    expect(code(() => new DenseDataset(Float32Array.of(1, Number.NaN), 2))).toBe('NON_FINITE');
    expect(code(() => new DenseDataset(Float32Array.of(1, Infinity), 2))).toBe('NON_FINITE');
    expect(code(() => DenseDataset.fromRows([[1, 2], [1]]))).toBe('DIMENSION_MISMATCH');
    const row = (ids: number[]) => ({ indices: Uint32Array.from(ids), values: new Float32Array(ids.length).fill(1) });
    expect(code(() => SparseDataset.fromRows([row([3, 1])], 10))).toBe('BAD_SPARSE_ROW');
    expect(code(() => SparseDataset.fromRows([row([1, 1])], 10))).toBe('BAD_SPARSE_ROW');
    expect(code(() => SparseDataset.fromRows([row([1, 12])], 10))).toBe('BAD_SPARSE_ROW');
    expect(code(() => SparseDataset.fromRows([], 10))).toBe('EMPTY_DATA');
  });

  it('error messages name the problem', () => {
    expect(() => new DenseDataset(Float32Array.of(0, 0, 0, Number.NaN), 2)).toThrow(/vector 1 .*component 1/);
    expect(() => index.search(new Float32Array(5), 3)).toThrow(/dimension 5, the index has 4/);
    expect(() => index.search(new Float32Array(4), 101)).toThrow(/k = 101 is larger than the index \(100 items\)/);
  });

  it('queries and parameters', async () => {
    expect(code(() => index.search(new Float32Array(3), 5))).toBe('DIMENSION_MISMATCH');
    expect(code(() => index.search(Float32Array.of(0, 0, Number.NaN, 0), 5))).toBe('NON_FINITE');
    expect(code(() => index.search(new Float32Array(4), 0))).toBe('INVALID_ARGUMENT');
    expect(code(() => index.search(new Float32Array(4), 101))).toBe('INVALID_ARGUMENT');
    expect(code(() => index.search(new Float32Array(4), 5, { ef: 0 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => index.search({ indices: Uint32Array.of(1), values: Float32Array.of(1) }, 5))).toBe('INVALID_ARGUMENT');
    expect(await codeAsync(() => index.searchBatch([new Float32Array(4), new Float32Array(5)], 5))).toBe('DIMENSION_MISMATCH');
    expect(await codeAsync(() => index.searchBatch([new Float32Array(4)], 5, { batchSize: 0 }))).toBe('INVALID_ARGUMENT');
    expect(await codeAsync(() => index.searchBatch([], 5))).toBe('EMPTY_DATA');
    expect(code(() => HnswIndex.build(data, { metric: 'cosine' as never }))).toBe('INVALID_ARGUMENT');
    expect(code(() => HnswIndex.build(data, { metric: 'l2', m: 1 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => FlatIndex.build(data, { metric: 'l2' }).search(new Float32Array(4), 0))).toBe('INVALID_ARGUMENT');
  });

  it('sparse queries are checked against the index', () => {
    const rows = Array.from({ length: 50 }, (_, i) => ({ indices: Uint32Array.of(i % 7, 10 + (i % 5)), values: Float32Array.of(1, 0.5) }));
    const sparse = HnswIndex.build(SparseDataset.fromRows(rows, 20), { metric: 'ip', m: 4 });
    expect(code(() => sparse.search({ indices: Uint32Array.of(5, 2), values: Float32Array.of(1, 1) }, 3))).toBe('BAD_SPARSE_ROW');
    expect(code(() => sparse.search({ indices: Uint32Array.of(25), values: Float32Array.of(1) }, 3))).toBe('BAD_SPARSE_ROW');
    expect(code(() => sparse.search(new Float32Array(20), 3))).toBe('INVALID_ARGUMENT');
    expect(sparse.search({ indices: Uint32Array.of(3, 12), values: Float32Array.of(1, 1) }, 3).ids.length).toBe(3);
  });
});

describe('the SIMD store size limit', () => {
  it('says what fits instead of silently falling back to the slow kernels', async () => {
    const { WasmArena } = await import('../src/quant/wasm/arena.js');
    const { PlainDenseStore } = await import('../src/quant/dense/store.js');
    const { DenseDataset } = await import('../src/data/dense.js');
    const data = new DenseDataset(new Float32Array(2000 * 784).fill(1), 784);
    const saved = WasmArena.maxBytes;
    WasmArena.maxBytes = 4 << 20; // stands in for 4 GiB
    try {
      expect(() => new PlainDenseStore(data, 'l2')).toThrow(
        /2000 vectors of dimension 784 take 0\.01 GiB; .* holds at most \d+ of them .*f16 or sq8.*product quantization/,
      );
      expect(new PlainDenseStore(data, 'l2', { simd: false }).kernels).toBe('js');
    } finally {
      WasmArena.maxBytes = saved;
    }
    expect(new PlainDenseStore(data, 'l2').kernels).toBe('wasm-simd');
  });
});

describe('vectors too large for f32 in the SIMD memory', () => {
  it('CLI build --quantizer f16|sq8 builds the graph on the codes, and says so; --keep-plain true fails clearly', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { WasmArena } = await import('../src/quant/wasm/arena.js');
    const { writeFvecs } = await import('../src/io/vecs.js');
    const { loadMnist } = await import('../src/node/mnist.js');
    const { cli, expectOk, expectOneLineError, lastJson } = await import('./helpers/cli.js');
    const dir = mkdtempSync(join(tmpdir(), 'webannolo-big-'));
    const { train, test } = loadMnist(2000, 20);
    writeFileSync(join(dir, 'base.fvecs'), writeFvecs(train));
    writeFileSync(join(dir, 'q.fvecs'), writeFvecs(test));
    const saved = WasmArena.maxBytes;
    WasmArena.maxBytes = 4 << 20; // stands in for 4 GiB: 2000 x 784 f32 (6.3 MB) does not fit, as f16 (3.1 MB) it does
    try {
      for (const quantizer of ['f16', 'sq8']) {
        const out = join(dir, `${quantizer}.idx`);
        const b = await cli(
          'build',
          '--data',
          join(dir, 'base.fvecs'),
          '--metric',
          'l2',
          '--out',
          out,
          '--quantizer',
          quantizer,
          '--threads',
          '1',
          '--m',
          '8',
          '--ef-construction',
          '60',
          '--quiet',
        );
        expectOk(b);
        expect(b.stdout).toContain(`built the graph on the ${quantizer} codes`);
        expect(lastJson(b)).toMatchObject({ quantizer, keepPlain: false, rerankBytes: 0 });
        const s = await cli('search', '--index', out, '--queries', join(dir, 'q.fvecs'), '--ef', '64');
        expectOk(s);
      }
      expectOneLineError(
        await cli(
          'build',
          '--data',
          join(dir, 'base.fvecs'),
          '--metric',
          'l2',
          '--out',
          join(dir, 'x.idx'),
          '--quantizer',
          'f16',
          '--keep-plain',
          'true',
          '--threads',
          '1',
          '--quiet',
        ),
        /too many to keep as f32 for --rerank: build with --keep-plain false/,
      );
      expectOneLineError(
        await cli('build', '--data', join(dir, 'base.fvecs'), '--metric', 'l2', '--out', join(dir, 'y.idx'), '--threads', '1', '--quiet'),
        /do not fit|holds at most/,
      );
    } finally {
      WasmArena.maxBytes = saved;
    }
  });
});
