import { appendFile, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DenseDataset, HnswIndex, type WebannoloError } from '../src/index.js';
import { loadIndexFile, readIndexHeader, saveIndexFile } from '../src/node/index-files.js';
import { loadMnist } from '../src/node/mnist.js';
import { DurableIndex } from '../src/serve/durable/durable-index.js';
import { listSegments, segmentPath } from '../src/serve/durable/log-segments.js';

// The write-ahead log under an index on real data (MNIST, L2): replay, torn tails, snapshots,
// group commit, and that refused changes leave no trace.
const N = 600;
const BUILD = { metric: 'l2', m: 12, efConstruction: 60, seed: 3 } as const;
let base: DenseDataset;
let dir: string;
let file = 0;

function rows(from: number, to: number): Float32Array[] {
  return Array.from({ length: to - from }, (_, i) => base.get(from + i).slice());
}

/** A fresh index file over rows [0, 400) with keys 'k<row>'. */
async function freshIndex(): Promise<string> {
  const path = join(dir, `index-${file++}.wann`);
  const data = new DenseDataset(base.data.slice(0, 400 * base.dim), base.dim);
  const keys = Array.from({ length: 400 }, (_, i) => `k${i}`);
  await saveIndexFile(HnswIndex.build(data, { ...BUILD, keys }), path);
  return path;
}

const keysOf = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `k${from + i}`);

beforeAll(async () => {
  base = loadMnist(N, 1).train;
  dir = await mkdtemp(join(tmpdir(), 'webannolo-wal-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a durable index', () => {
  it('replays acknowledged adds, upserts and removes onto the file after a restart', async () => {
    const path = await freshIndex();
    const d = await DurableIndex.open(path, { snapshotIntervalMs: 0 });
    expect((await readIndexHeader(path)).header['annotations']).toMatchObject({ log: { seq: 0 } });
    await d.add({ keys: keysOf(400, 450), vectors: rows(400, 450) });
    await d.remove(keysOf(0, 20));
    await d.add({ keys: keysOf(20, 25), vectors: rows(500, 505), upsert: true, labels: [1, 2, 3, 4, 5] });
    const before = d.index.search(base.get(500), 5, { ef: 64 });
    expect(d.stats.seq).toBe(3);
    await d.close();

    // The file itself still holds the state at the first snapshot: the log carries the rest.
    expect((await loadIndexFile(path)).size).toBe(400);
    const again = await DurableIndex.open(path, { snapshotIntervalMs: 0 });
    try {
      expect(again.stats.replayed).toBe(3);
      // 50 added, 20 removed, 5 replaced in place.
      expect(again.index.size).toBe(400 + 50 - 20);
      for (const k of keysOf(0, 20)) expect(again.index.has(k)).toBe(false);
      for (const k of keysOf(400, 450)) expect(again.index.has(k)).toBe(true);
      const after = again.index.search(base.get(500), 5, { ef: 64 });
      expect(after.keys).toEqual(before.keys);
      expect(after.keys![0]).toBe('k20');
      // Replayed changes were folded into the file at open: it now holds them itself.
      expect((await readIndexHeader(path)).header['annotations']).toMatchObject({ log: { seq: 3 } });
    } finally {
      await again.close();
    }
  });

  it('drops a torn record at the tail (a crash mid-append) and keeps every whole one', async () => {
    const path = await freshIndex();
    const d = await DurableIndex.open(path, { snapshotIntervalMs: 0 });
    await d.add({ keys: ['a'], vectors: rows(400, 401) });
    await d.add({ keys: ['b'], vectors: rows(401, 402) });
    await d.close();
    const [segment] = await listSegments(path);
    const seg = segmentPath(path, segment!);
    const whole = (await stat(seg)).size;
    // Cut the last record in half: only 'a' survives.
    await truncate(seg, whole - 1000);
    let again = await DurableIndex.open(path, { snapshotIntervalMs: 0 });
    expect(again.index.has('a')).toBe(true);
    expect(again.index.has('b')).toBe(false);
    expect(again.stats.tornBytes).toBeGreaterThan(0);
    await again.add({ keys: ['c'], vectors: rows(402, 403) });
    await again.close();
    // Garbage after the last record (a frame whose checksum fails) is dropped the same way.
    const [last] = (await listSegments(path)).slice(-1);
    await appendFile(segmentPath(path, last!), Buffer.from([16, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]));
    again = await DurableIndex.open(path, { snapshotIntervalMs: 0 });
    try {
      expect(['a', 'b', 'c'].map((k) => again.index.has(k))).toEqual([true, false, true]);
      expect(again.stats.tornBytes).toBe(24);
    } finally {
      await again.close();
    }
  });

  it('a damaged record followed by more segments is damage, not a torn tail', async () => {
    const path = await freshIndex();
    const d = await DurableIndex.open(path, { snapshotIntervalMs: 0 });
    await d.add({ keys: ['a'], vectors: rows(400, 401) });
    await d.close();
    const [first] = await listSegments(path);
    const bytes = await readFile(segmentPath(path, first!));
    bytes[bytes.length - 10]! ^= 0xff;
    await writeFile(segmentPath(path, first!), bytes);
    await writeFile(segmentPath(path, first! + 1), bytes.subarray(0, 24));
    await expect(DurableIndex.open(path)).rejects.toThrow(/damaged record .* later segments follow/);
  });

  it('refused changes leave no trace in the index or the log', async () => {
    const path = await freshIndex();
    const d = await DurableIndex.open(path, { snapshotIntervalMs: 0 });
    try {
      const bytes = d.stats.log!.bytes;
      const code = async (p: Promise<unknown>) =>
        (
          (await p.then(
            () => null,
            (e) => e,
          )) as WebannoloError | null
        )?.code;
      expect(await code(d.add({ keys: ['x'], vectors: [new Float32Array(3)] }))).toBe('DIMENSION_MISMATCH');
      expect(await code(d.add({ keys: ['k1'], vectors: rows(400, 401) }))).toBe('INVALID_ARGUMENT');
      expect(await code(d.remove(['k1', 'nope']))).toBe('INVALID_ARGUMENT');
      const bad = rows(400, 402);
      bad[1]![7] = Number.NaN;
      expect(await code(d.add({ keys: ['y', 'z'], vectors: bad }))).toBe('NON_FINITE');
      expect(d.stats.seq).toBe(0);
      expect(d.stats.log!.bytes).toBe(bytes);
      expect(d.index.size).toBe(400);
      expect(['x', 'y', 'z'].some((k) => d.index.has(k))).toBe(false);
      expect(d.index.has('k1')).toBe(true);
    } finally {
      await d.close();
    }
  });

  it('group commit: concurrent changes share fsyncs, each acknowledged after its own is durable', async () => {
    const path = await freshIndex();
    const d = await DurableIndex.open(path, { snapshotIntervalMs: 0 });
    try {
      const acks = await Promise.all(Array.from({ length: 64 }, (_, i) => d.add({ keys: [`g${i}`], vectors: rows(400 + i, 401 + i) })));
      expect(acks.map((a) => a.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
      const { appends, fsyncs, largestGroup } = d.stats.log!;
      expect(appends).toBe(64);
      expect(fsyncs).toBeLessThan(64);
      expect(largestGroup).toBeGreaterThan(1);
    } finally {
      await d.close();
    }
  });

  it('a snapshot writes the file with its log position and drops the segments it covers', async () => {
    const path = await freshIndex();
    const d = await DurableIndex.open(path, { snapshotIntervalMs: 0, snapshotEveryChanges: 5 });
    for (let i = 0; i < 12; i++) await d.add({ keys: [`s${i}`], vectors: rows(400 + i, 401 + i) });
    await d.snapshot();
    const segs = await listSegments(path);
    expect(segs.length).toBe(1);
    await d.add({ keys: ['after'], vectors: rows(450, 451) });
    await d.close();
    expect((await readIndexHeader(path)).header['annotations']).toMatchObject({ log: { seq: 12 } });
    expect((await loadIndexFile(path)).size).toBe(412);
    const again = await DurableIndex.open(path, { snapshotIntervalMs: 0 });
    try {
      expect(again.stats.replayed).toBe(1);
      expect(again.index.size).toBe(413);
    } finally {
      await again.close();
    }
  });

  it('refuses a log that belongs to another index file, a second writer, and an index without keys', async () => {
    const path = await freshIndex();
    const d = await DurableIndex.open(path, { snapshotIntervalMs: 0 });
    await expect(DurableIndex.open(path)).rejects.toThrow(/lock|webannolo serve/);
    await d.add({ keys: ['a'], vectors: rows(400, 401) });
    await d.close();
    // The file replaced by another build while the log stayed.
    const data = new DenseDataset(base.data.slice(0, 100 * base.dim), base.dim);
    await saveIndexFile(HnswIndex.build(data, { ...BUILD, keys: keysOf(0, 100) }), path);
    await expect(DurableIndex.open(path)).rejects.toThrow(/replaced while its log stayed/);

    const keyless = join(dir, 'keyless.wann');
    await saveIndexFile(HnswIndex.build(data, BUILD), keyless);
    await expect(DurableIndex.open(keyless)).rejects.toMatchObject({ code: 'READ_ONLY' });
    expect((await readdir(dir)).filter((n) => n.startsWith('keyless.wann.'))).toEqual([]);
  });
});

describe('a replica following an external log', () => {
  it('applies changes in the log order, skips redeliveries, moves past refused ones, and keeps other annotations', async () => {
    const path = join(dir, 'replica.wann');
    const data = new DenseDataset(base.data.slice(0, 200 * base.dim), base.dim);
    await saveIndexFile(HnswIndex.build(data, { ...BUILD, keys: keysOf(0, 200) }), path, { annotations: { shard: 1, shards: 3 } });
    const d = await DurableIndex.open(path, { externalLog: 'svc-1', snapshotIntervalMs: 0 });
    try {
      expect(d.stats.seq).toBe(0);
      expect(d.applyReplicated({ seq: 5, op: 'add', keys: ['n5'], vectors: rows(300, 301), upsert: false })).toEqual({
        applied: true,
        error: null,
      });
      expect(d.applyReplicated({ seq: 5, op: 'add', keys: ['n5'], vectors: rows(300, 301), upsert: false })).toEqual({
        applied: false,
        error: null,
      });
      const refused = d.applyReplicated({ seq: 6, op: 'remove', keys: ['nope'] });
      expect(refused.applied).toBe(false);
      expect(refused.error?.code).toBe('INVALID_ARGUMENT');
      expect(d.stats.seq).toBe(6);
      await expect(d.add({ keys: ['x'], vectors: rows(301, 302) })).rejects.toMatchObject({ code: 'READ_ONLY' });
      await d.snapshot();
    } finally {
      await d.close();
    }
    expect((await readIndexHeader(path)).header['annotations']).toEqual({ shard: 1, shards: 3, externalLog: { name: 'svc-1', seq: 6 } });
    expect((await readdir(dir)).filter((n) => n.startsWith('replica.wann.wal'))).toEqual([]);
    const again = await DurableIndex.open(path, { externalLog: 'svc-1', snapshotIntervalMs: 0 });
    try {
      expect(again.stats.seq).toBe(6);
      expect(again.index.has('n5')).toBe(true);
    } finally {
      await again.close();
    }
    await expect(DurableIndex.open(path, { externalLog: 'other' })).rejects.toThrow(/holds the changes of log 'svc-1'/);
  });

  it('a write-ahead-logged snapshot keeps the annotations it did not write', async () => {
    const path = join(dir, 'annotated.wann');
    const data = new DenseDataset(base.data.slice(0, 200 * base.dim), base.dim);
    await saveIndexFile(HnswIndex.build(data, { ...BUILD, keys: keysOf(0, 200) }), path, { annotations: { shard: 0, shards: 2 } });
    const d = await DurableIndex.open(path, { snapshotIntervalMs: 0 });
    await d.add({ keys: ['z'], vectors: rows(300, 301) });
    await d.snapshot();
    await d.close();
    expect((await readIndexHeader(path)).header['annotations']).toMatchObject({ shard: 0, shards: 2, log: { seq: 1 } });
  });
});
