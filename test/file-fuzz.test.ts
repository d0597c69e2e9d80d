import { execFile } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type AnyIndex,
  DenseDataset,
  deserializeIndex,
  FlatIndex,
  HnswIndex,
  type ItemKey,
  ProductQuantizer,
  ScalarQuantizer,
  SparseDataset,
  serializeIndex,
  type Vector,
  WebannoloError,
  writeFvecs,
} from '../src/index.js';
import { closeIndex, loadIndexFile } from '../src/node/index.js';
import { Rng } from '../src/util/rng.js';
import { cli } from './helpers/cli.js';
import { layOut, type Mutant, mutate, parseFile } from './helpers/file-mutations.js';

// The index file fuzzer: real small files of every kind, mutated with their structure in
// mind (header fields, the sections table, section bytes, the length), each with a fresh CRC
// so that the validators, not the checksum, must catch the damage. Every case must end in a
// typed file error, or in an index that loads and searches without throwing, in both
// loaders alike. FUZZ_CASES (default 1500) and FUZZ_SEED set the run.

const CASES = Number(process.env['FUZZ_CASES'] ?? 1500);
const SEED = Number(process.env['FUZZ_SEED'] ?? 23);
const FILE_ERRORS = ['CORRUPT_FILE', 'TRUNCATED_FILE', 'FOREIGN_FILE', 'UNSUPPORTED_VERSION', 'UNSUPPORTED_FORMAT'];

const dir = mkdtempSync(join(tmpdir(), 'webannolo-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rng = new Rng(5);
const N = 300;
const dense = new DenseDataset(
  Float32Array.from({ length: N * 16 }, () => rng.nextOpenUnit() - 0.5),
  16,
);
const sparse = SparseDataset.fromRows(
  Array.from({ length: N }, (_, i) => ({
    indices: Uint32Array.of(i % 11, 20 + (i % 13), 40 + (i % 17)),
    values: Float32Array.of(1, rng.nextOpenUnit(), 2),
  })),
  64,
);

/** Small real files: every store kind, keys of both kinds, labels, removed items, the locality order, a flat index, format 1. */
function sources(): { name: string; bytes: Uint8Array }[] {
  const build = { m: 6, efConstruction: 30, seed: 3 };
  const withItems = HnswIndex.build(dense, {
    metric: 'l2',
    ...build,
    keys: Array.from({ length: N }, (_, i) => i * 3 + 1),
    labels: Array.from({ length: N }, (_, i) => (i % 4 === 0 ? null : [i % 5, 7])),
  });
  withItems.remove([4, 31, 100]);
  const plain = HnswIndex.build(dense, { metric: 'ip', ...build, layout: 'insertion' });
  const pq = plain.quantize(new ProductQuantizer({ m: 4, trainSample: N, maxIterations: 2 }));
  const f16 = plain.quantize(new ScalarQuantizer('f16'), { keepPlain: false });
  const sq8 = HnswIndex.build(dense, { metric: 'l2', ...build }).quantize(new ScalarQuantizer('sq8'));
  const sparseIndex = HnswIndex.build(sparse, {
    metric: 'ip',
    ...build,
    keys: Array.from({ length: N }, (_, i) => `doc-${i}`),
    labels: Array.from({ length: N }, (_, i) => i % 3),
  });
  sparseIndex.remove(['doc-7']);
  return [
    { name: 'dense+keys+labels+removed+order', bytes: serializeIndex(withItems) },
    { name: 'pq+rerank', bytes: serializeIndex(pq) },
    { name: 'f16', bytes: serializeIndex(f16) },
    { name: 'sq8+rerank', bytes: serializeIndex(sq8) },
    { name: 'sparse+string-keys', bytes: serializeIndex(sparseIndex) },
    { name: 'flat', bytes: serializeIndex(FlatIndex.build(dense, { metric: 'l2' })) },
    { name: 'format-1', bytes: new Uint8Array(readFileSync(new URL('./fixtures/format-1.wann', import.meta.url))) },
  ];
}
const files = sources();

function queryFor(index: AnyIndex): Vector {
  const dim = index.dim;
  if (index.store.kind !== 'sparse') return Float32Array.from({ length: dim }, (_, i) => ((i * 5) % 9) / 9 - 0.4);
  const ids = dim > 1 ? [0, dim - 1] : [0];
  return { indices: Uint32Array.from(ids), values: Float32Array.from(ids, () => 1) };
}

/** A key no file holds, of the index's kind (undefined for an index without keys). */
function newKey(index: HnswIndex): ItemKey[] | undefined {
  if (!index.keys) return undefined;
  return [index.keys.kind === 'string' ? 'fuzz-added' : 2 ** 52];
}

/** What loading (and then searching) gave: 'ok', a file error's code, or a failure to report. */
async function outcome(load: () => AnyIndex | Promise<AnyIndex>): Promise<string> {
  let index: AnyIndex;
  try {
    index = await load();
  } catch (e) {
    if (!(e instanceof WebannoloError)) return `untyped ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`;
    if (!FILE_ERRORS.includes(e.code)) return `unexpected code ${e.code}: ${e.message}`;
    if (/internal/i.test(e.message)) return `internal error reported: ${e.message}`;
    return e.code;
  }
  // A file that loads is an index: it searches without throwing.
  try {
    const k = Math.min(3, index instanceof HnswIndex ? index.capacity : index.size);
    const q = queryFor(index);
    index.search(q, k);
    if (index instanceof HnswIndex) {
      await index.searchBatch([q, q], k, { threads: 1 });
      if (index.rerankStore) index.search(q, k, { rerank: 8 });
      if (index.labels) index.search(q, k, { filter: { label: 7 } });
    }
  } catch (e) {
    closeIndex(index);
    return `loaded, then search threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`;
  }
  // And it takes a change, or refuses it with a typed error (a store read from disk cannot change).
  try {
    if (index instanceof HnswIndex) index.add([queryFor(index)], newKey(index));
  } catch (e) {
    if (!(e instanceof WebannoloError)) return `loaded, then add threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`;
  } finally {
    closeIndex(index);
  }
  return 'ok';
}

/** Both loaders on one file: the same outcome, and only typed file errors. */
async function check(bytes: Uint8Array, what: string, rerankOnDisk = false): Promise<string> {
  const memory = await outcome(() => deserializeIndex(bytes));
  const path = join(dir, 'case.wann');
  writeFileSync(path, bytes);
  const streamed = await outcome(() => loadIndexFile(path, { stream: true, chunkBytes: 1 << (10 + (bytes.length % 4)) }));
  const good = (o: string) => o === 'ok' || FILE_ERRORS.includes(o);
  if (!good(memory) || !good(streamed) || memory !== streamed) expect.fail(`${what}\n  in memory: ${memory}\n  streamed:  ${streamed}`);
  if (rerankOnDisk) {
    const disk = await outcome(() => loadIndexFile(path, { rerank: 'disk' }));
    // From disk only plain dense re-ranking vectors are read: other files may be refused as UNSUPPORTED_FORMAT.
    if (!(good(disk) || disk.startsWith('unexpected code UNSUPPORTED_FORMAT'))) expect.fail(`${what}\n  rerank on disk: ${disk}`);
  }
  return memory;
}

describe('index file fuzzer (fields rewritten, CRC recomputed)', () => {
  it('the sources load and search, and so do they laid out again by the fuzzer', async () => {
    for (const f of files) {
      expect(await check(f.bytes, f.name)).toBe('ok');
      const again = layOut(parseFile(f.bytes));
      expect(await check(again, `${f.name} laid out again`)).toBe('ok');
    }
  });

  it(`${CASES} mutants: typed errors only, or an index that searches`, async () => {
    const fuzz = new Rng(SEED);
    const tally: Record<string, number> = {};
    const started = performance.now();
    for (let c = 0; c < CASES; c++) {
      const source = files[c % files.length]!;
      let mutant: Mutant;
      try {
        mutant = mutate(fuzz, source.bytes);
      } catch (e) {
        throw new Error(`case ${c}: the mutator failed on ${source.name}: ${(e as Error).message}`);
      }
      // FUZZ_TRACE=file: each case is written there before it runs (a hang names its case).
      if (process.env['FUZZ_TRACE']) appendFileSync(process.env['FUZZ_TRACE'], `case ${c}, ${source.name}: ${mutant.what}\n`);
      const result = await check(mutant.bytes, `case ${c} (seed ${SEED}), ${source.name}: ${mutant.what}`, source.name.includes('rerank'));
      if (process.env['FUZZ_TRACE']) appendFileSync(process.env['FUZZ_TRACE'], `  -> ${result}\n`);
      tally[result] = (tally[result] ?? 0) + 1;
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`file fuzz: ${CASES} cases in ${seconds.toFixed(1)} s:`, tally);
    // The mutants must reach the validators, not stop at the first check.
    expect(tally['CORRUPT_FILE'] ?? 0).toBeGreaterThan(CASES / 4);
  });
});

/** Header edits that claim huge sizes, with a valid CRC: what a hostile file would try. */
function nastyCases(): { name: string; bytes: Uint8Array }[] {
  const out: { name: string; bytes: Uint8Array }[] = [];
  const huge = [2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53, 1e300];
  for (const f of files) {
    const p = parseFile(f.bytes);
    const edit = (label: string, fn: (h: Record<string, unknown>) => void) => {
      out.push({
        name: `${f.name}-${label}`.replace(/[^a-z0-9.+-]/gi, '_'),
        bytes: layOut(p, (h) => {
          fn(h);
          return h;
        }),
      });
    };
    const setPath = (h: Record<string, unknown>, path: string[], v: unknown) => {
      let o = h as Record<string, unknown>;
      for (const key of path.slice(0, -1)) o = o[key] as Record<string, unknown>;
      if (o && typeof o === 'object') o[path[path.length - 1]!] = v;
    };
    const fields = [
      ['store', 'size'],
      ['store', 'dim'],
      ['store', 'm'],
      ['store', 'rowBytes'],
      ['rerank', 'size'],
      ['rerank', 'dim'],
      ['graph', 'n'],
      ['graph', 'm'],
      ['graph', 'm0'],
      ['graph', 'maxLevel'],
      ['graph', 'entryPoint'],
      ['graph', 'efConstruction'],
      ['items', 'removed'],
    ];
    for (const path of fields) {
      for (const v of huge) edit(`${path.join('.')}=${v}`, (h) => setPath(h, path, v));
    }
    // Every section claims to be huge; or the level-0 section grows with m0.
    for (const v of [2 ** 28, 2 ** 31, 2 ** 40]) {
      edit(`lengths=${v}`, (h) => {
        for (const e of h['sections'] as { length: number }[]) e.length = v;
      });
    }
    edit('m0-and-level0-huge', (h) => {
      setPath(h, ['graph', 'm0'], 2 ** 30);
      for (const e of h['sections'] as { name: string; length: number }[]) if (e.name === 'graph.level0') e.length = 2 ** 40;
    });
    edit('m-huge-no-upper-levels', (h) => setPath(h, ['graph', 'm'], 2 ** 30));
    // The same section listed many times (the streamed loader used to allocate each).
    edit('section-listed-300-times', (h) => {
      const table = h['sections'] as unknown[];
      for (let i = 0; i < 300; i++) table.push({ ...(table[0] as object) });
    });
    edit('sections-aliased', (h) => {
      const table = h['sections'] as { offset: number; length: number }[];
      for (const e of table) Object.assign(e, { offset: table[0]!.offset, length: table[0]!.length });
    });
  }
  // Every node on level 0 (no upper-level section to size m by), then m huge: the first
  // search would size its scratch by max(m0, m).
  for (const f of files.filter((x) => x.name !== 'flat')) {
    const p = parseFile(f.bytes);
    for (const s of p.sections) {
      if (s.name === 'graph.levels') s.bytes = new Uint8Array(s.bytes.length);
      if (s.name === 'graph.upper') Object.assign(s, { bytes: new Uint8Array(0), length: 0 });
    }
    for (const m of [256, 2 ** 20, 2 ** 30, 2 ** 31]) {
      out.push({
        name: `${f.name}-level0-only-m=${m}`.replace(/[^a-z0-9.+=-]/gi, '_'),
        bytes: layOut(p, (h) => {
          Object.assign(h['graph'] as object, { m, maxLevel: 0 });
          return h;
        }),
      });
    }
  }
  // One 2 MiB section listed 200 times, or every listed section aliasing it: a loader that
  // allocates what the table lists (before the CRC fails) would hold 400 MiB.
  const big = parseFile(
    serializeIndex(
      FlatIndex.build(
        new DenseDataset(
          Float32Array.from({ length: 8192 * 64 }, (_, i) => (i % 101) / 101),
          64,
        ),
        { metric: 'l2' },
      ),
    ),
  );
  out.push({
    name: 'big-section-listed-200-times',
    bytes: layOut(big, (h) => {
      const table = h['sections'] as unknown[];
      for (let i = 0; i < 200; i++) table.push({ ...(table[0] as object), name: `store.vectors${i}` });
      return h;
    }),
  });
  out.push({
    name: 'big-section-duplicated-200-times',
    bytes: layOut(big, (h) => {
      const table = h['sections'] as unknown[];
      for (let i = 0; i < 200; i++) table.push({ ...(table[0] as object) });
      return h;
    }),
  });
  // A sparse dimension the CSR does not need but a query's scratch row would.
  const sparseFile = parseFile(files.find((f) => f.name.startsWith('sparse'))!.bytes);
  for (const dim of [2 ** 24, 2 ** 26, 2 ** 31, 2 ** 32 - 1]) {
    out.push({
      name: `sparse-dim=${dim}`,
      bytes: layOut(sparseFile, (h) => {
        (h['store'] as Record<string, unknown>)['dim'] = dim;
        return h;
      }),
    });
  }
  return out;
}

describe('hostile files under a 64 MB heap', () => {
  it('a child process with --max-old-space-size=64 loads every nasty case: typed errors only, no crash', async () => {
    const cases = nastyCases();
    const caseDir = mkdtempSync(join(dir, 'nasty-'));
    // Every nasty case must be refused or load as an index in this process too (and the
    // loaders agree), before the child checks that none allocates what it claims.
    for (const c of cases) await check(c.bytes, `nasty ${c.name}`);
    cases.forEach((c, i) => {
      writeFileSync(join(caseDir, `${String(i).padStart(4, '0')}-${c.name}.wann`), c.bytes);
    });
    const script = fileURLToPath(new URL('./helpers/load-hostile.mjs', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--max-old-space-size=64', script, caseDir], {
      maxBuffer: 16 << 20,
      timeout: 120_000,
    });
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const rss = lines.pop()!['maxRssKiB'] as number;
    expect(lines).toHaveLength(cases.length);
    const bad = lines.filter((l) => ![l['memory'], l['streamed']].every((o) => o === 'ok' || FILE_ERRORS.includes(o as string)));
    expect(bad).toEqual([]);
    console.log(`nasty cases: ${cases.length}, child peak RSS ${(rss / 1024).toFixed(0)} MiB`);
    // The files are at most 2 MiB each: what the process holds stays near Node's own footprint
    // (about 90 MiB with the library and its WebAssembly memories).
    expect(rss).toBeLessThan(256 * 1024);
  });
});

describe('hostile files in the CLI: one line, exit code 1', () => {
  it('info, search and add on files with crafted fields', async () => {
    const p = parseFile(files[0]!.bytes);
    const vectors = join(dir, 'vectors.fvecs');
    writeFileSync(vectors, writeFvecs(dense.slice(0, 2)));
    const crafted: [string, (h: Record<string, unknown>) => void, RegExp][] = [
      ['sections-not-array', (h) => void (h['sections'] = { a: 1 }), /'sections' is not a list/],
      ['graph-m-huge', (h) => void ((h['graph'] as Record<string, unknown>)['m'] = 2 ** 40), /invalid graph 'm'/],
      ['unknown-section', (h) => void ((h['sections'] as { name: string }[])[0]!.name = 'store.other'), /section 'store.other'/],
    ];
    for (const [name, fn, message] of crafted) {
      const path = join(dir, `${name}.wann`);
      writeFileSync(
        path,
        layOut(p, (h) => {
          fn(h);
          return h;
        }),
      );
      const runs = [
        await cli('info', '--index', path),
        await cli('info', '--index', path, '--header-only'),
        await cli('search', '--index', path, '--queries', vectors),
        await cli('add', '--index', path, '--data', vectors),
      ];
      for (const run of runs) {
        expect(run.code, run.stderr).toBe(1);
        const lines = run.stderr.trimEnd().split('\n');
        expect(lines, run.stderr).toHaveLength(1);
        expect(lines[0]).toMatch(new RegExp(`^webannolo: error: .*${name}\\.wann: .*`));
        expect(lines[0]).toMatch(message);
        expect(lines[0]).not.toMatch(/internal error/);
      }
    }
  });
});
