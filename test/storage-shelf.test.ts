/**
 * The saved-index logic (generations, the manifest written last, leftovers, quota errors) over
 * an in-memory FileStore. OPFS and IndexedDB themselves run in Chromium: test/e2e/storage.e2e.ts.
 */
import { describe, expect, it } from 'vitest';
import { DenseDataset, HnswIndex, listIndexes, openIndex, StorageFullError, serializeIndex, WebannoloError } from '../src/index.js';
import type { FileStore, FileWriter } from '../src/storage/file-store.js';
import { IndexShelf, type ShelfHooks } from '../src/storage/index-shelf.js';
import type { ByteSource } from '../src/storage/read-index.js';
import { Rng } from '../src/util/rng.js';

/** Files in a Map, with the FileStore promise: a file changes only when its writer closes. */
class MemoryFiles implements FileStore {
  readonly backend = 'memory';
  readonly files = new Map<string, Uint8Array>();
  /** Set to make writes fail (quota) or never finish (a tab closed) once a file holds this many bytes. */
  failAt: { bytes: number; how: 'quota' | 'hang' } | null = null;
  /** Called before every chunk written. */
  onWrite: (() => void) | null = null;

  async create(name: string): Promise<FileWriter> {
    const chunks: Uint8Array[] = [];
    let written = 0;
    // Like OPFS: a new name shows up empty at once.
    if (!this.files.has(name)) this.files.set(name, new Uint8Array(0));
    return {
      write: async (chunk) => {
        this.onWrite?.();
        if (this.failAt && written + chunk.length > this.failAt.bytes) {
          if (this.failAt.how === 'hang') return new Promise<void>(() => {});
          throw new DOMException('quota reached', 'QuotaExceededError');
        }
        chunks.push(chunk.slice());
        written += chunk.length;
      },
      close: async () => {
        const out = new Uint8Array(written);
        let at = 0;
        for (const c of chunks) {
          out.set(c, at);
          at += c.length;
        }
        this.files.set(name, out);
      },
      abort: async () => {},
    };
  }
  async open(name: string): Promise<ByteSource | null> {
    const bytes = this.files.get(name);
    return bytes ? { size: bytes.length, read: async (s, e) => bytes.slice(s, e) } : null;
  }
  async remove(name: string): Promise<void> {
    this.files.delete(name);
  }
  async list(): Promise<string[]> {
    return [...this.files.keys()];
  }
}

function hooks(estimate: { quota: number; usage: number } | null = null, locks: string[] = []): ShelfHooks {
  return {
    estimate: async () => estimate,
    lock: (name, mode, fn) => {
      locks.push(`${mode} ${name}`);
      return fn();
    },
    chunkBytes: 4096,
  };
}

const rng = new Rng(5);
const data = (n: number) =>
  new DenseDataset(
    Float32Array.from({ length: n * 12 }, () => rng.nextOpenUnit()),
    12,
  );
const base = data(300);
const queries = data(20);
const indexA = HnswIndex.build(base, { metric: 'l2', m: 8, efConstruction: 40, seed: 1 });
const indexB = HnswIndex.build(data(200), { metric: 'l2', m: 8, efConstruction: 40, seed: 2 });

async function ids(index: { searchBatch: HnswIndex['searchBatch'] }): Promise<number[]> {
  return Array.from((await index.searchBatch(queries, 5)).ids);
}

async function failure(p: Promise<unknown>): Promise<WebannoloError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof WebannoloError) return e;
    throw e;
  }
  throw new Error('expected a WebannoloError');
}

describe('saved indexes (IndexShelf over an in-memory FileStore)', () => {
  it('saves, lists, opens (same results) and holds exactly a manifest and one data file', async () => {
    const files = new MemoryFiles();
    const locks: string[] = [];
    const shelf = new IndexShelf(files, hooks(null, locks), 'ns');
    const info = await shelf.save(indexA, 'mnist demo');
    expect(info).toMatchObject({ name: 'mnist demo', bytes: serializeIndex(indexA).length, backend: 'memory' });
    expect(info.savedAt).toBeInstanceOf(Date);
    expect((await shelf.list()).map((i) => [i.name, i.bytes])).toEqual([['mnist demo', info.bytes]]);
    const opened = await shelf.open('mnist demo');
    expect(await ids(opened)).toEqual(await ids(indexA));
    expect(serializeIndex(opened)).toEqual(serializeIndex(indexA));
    expect([...files.files.keys()].sort()).toEqual([expect.stringMatching(/^mnist%20demo\.1-[0-9a-z]+\.wann$/), 'mnist%20demo.index.json']);
    expect(locks).toEqual(['exclusive webannolo:memory:ns:mnist%20demo', 'shared webannolo:memory:ns:mnist%20demo']);
  });

  it('replaces a saved index: the next generation, the old file removed', async () => {
    const files = new MemoryFiles();
    const shelf = new IndexShelf(files, hooks(), 'ns');
    await shelf.save(indexA, 'x');
    await shelf.save(indexB, 'x');
    expect(await ids(await shelf.open('x'))).toEqual(await ids(indexB));
    const names = [...files.files.keys()].sort();
    expect(names).toHaveLength(2);
    expect(names[0]).toMatch(/^x\.2-[0-9a-z]+\.wann$/);
  });

  it('a save cut short (the tab closed mid-write) leaves the previous index; the next save clears the leftover', async () => {
    const files = new MemoryFiles();
    await new IndexShelf(files, hooks(), 'ns').save(indexA, 'x');
    files.failAt = { bytes: 10_000, how: 'hang' };
    void new IndexShelf(files, hooks(), 'ns').save(indexB, 'x');
    await new Promise((r) => setTimeout(r, 50));
    expect(files.files.size).toBe(3); // manifest, generation 1, generation 2 unfinished
    // A new page: the old index opens, the list shows it alone.
    files.failAt = null;
    const next = new IndexShelf(files, hooks(), 'ns');
    expect(await ids(await next.open('x'))).toEqual(await ids(indexA));
    expect((await next.list()).map((i) => i.bytes)).toEqual([serializeIndex(indexA).length]);
    await next.save(indexB, 'x');
    expect(files.files.size).toBe(2);
    expect(await ids(await next.open('x'))).toEqual(await ids(indexB));
  });

  it('a quota the estimate says is too small fails before writing, with the bytes needed and left', async () => {
    const files = new MemoryFiles();
    const bytes = serializeIndex(indexA).length;
    const shelf = new IndexShelf(files, hooks({ quota: 50 * 2 ** 20, usage: 50 * 2 ** 20 - 1000 }), 'ns');
    const e = await failure(shelf.save(indexA, 'x'));
    expect(e).toBeInstanceOf(StorageFullError);
    expect(e.code).toBe('IO_FAILURE');
    expect((e as StorageFullError).neededBytes).toBe(bytes);
    expect((e as StorageFullError).availableBytes).toBe(1000);
    expect(e.message).toContain(`needs ${(bytes / 2 ** 20).toFixed(1)} MiB`);
    expect(e.message).toContain('50.0 MiB quota');
    expect(files.files.size).toBe(0);
  });

  it('QuotaExceededError midway fails with StorageFullError, removes the partial file and keeps the old copy', async () => {
    const files = new MemoryFiles();
    const shelf = new IndexShelf(files, hooks(), 'ns');
    await shelf.save(indexA, 'x');
    const before = new Map(files.files);
    files.failAt = { bytes: 10_000, how: 'quota' };
    const e = await failure(shelf.save(indexB, 'x'));
    expect(e).toBeInstanceOf(StorageFullError);
    expect(e.message).toContain('does not say how much is left');
    expect((e as { cause?: { name?: string } }).cause?.name).toBe('QuotaExceededError');
    expect(files.files).toEqual(before);
    files.failAt = null;
    expect(await ids(await shelf.open('x'))).toEqual(await ids(indexA));
  });

  it('deletes (false for an unknown name) and lists by name', async () => {
    const files = new MemoryFiles();
    const shelf = new IndexShelf(files, hooks(), 'ns');
    for (const name of ['b', 'a.b/c', '💡 ideas', '..']) await shelf.save(indexA, name);
    expect((await shelf.list()).map((i) => i.name)).toEqual(['..', 'a.b/c', 'b', '💡 ideas']);
    for (const name of [...files.files.keys()]) expect(name).toMatch(/^[A-Za-z0-9%_-]+\.(index\.json|\d+-[0-9a-z]+\.wann)$/);
    expect(await shelf.delete('a.b/c')).toBe(true);
    expect(await shelf.delete('a.b/c')).toBe(false);
    expect((await shelf.list()).map((i) => i.name)).toEqual(['..', 'b', '💡 ideas']);
    for (const name of ['..', 'b', '💡 ideas']) await shelf.delete(name);
    expect(files.files.size).toBe(0);
  });

  it('refuses unknown, empty and over-long names and a damaged file clearly', async () => {
    const files = new MemoryFiles();
    const shelf = new IndexShelf(files, hooks(), 'ns');
    const missing = await failure(shelf.open('nope'));
    expect([missing.code, missing.message]).toEqual([
      'INVALID_ARGUMENT',
      "no index is saved as 'nope' here (listIndexes() names the saved ones)",
    ]);
    expect((await failure(shelf.save(indexA, ''))).code).toBe('INVALID_ARGUMENT');
    expect((await failure(shelf.save(indexA, '€'.repeat(100)))).message).toContain('too long');
    await shelf.save(indexA, 'x');
    const dataFile = [...files.files.keys()].find((n) => n.endsWith('.wann'))!;
    files.files.get(dataFile)![200]! ^= 1;
    expect((await failure(shelf.open('x'))).code).toBe('CORRUPT_FILE');
    files.files.set('x.index.json', new TextEncoder().encode('{"format":"other"}'));
    expect((await failure(shelf.open('x'))).message).toContain('manifest of saved index x is malformed');
    expect(await shelf.list()).toEqual([]);
  });

  it('an index changed while it is written is saved again, whole', async () => {
    const files = new MemoryFiles();
    const shelf = new IndexShelf(files, hooks(), 'ns');
    const living = HnswIndex.build(base.slice(0, 100), { metric: 'l2', m: 8, efConstruction: 40, seed: 1 });
    let added = false;
    files.onWrite = () => {
      if (added) return;
      added = true;
      living.add(base.slice(100, 110));
    };
    const info = await shelf.save(living, 'x');
    expect(info.bytes).toBe(serializeIndex(living).length);
    const opened = await shelf.open('x');
    expect(opened.size).toBe(110);
    expect(serializeIndex(opened)).toEqual(serializeIndex(living));
  });

  it('outside a browser the public functions say what to use instead', async () => {
    const e = await failure(listIndexes());
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toContain('loadIndexFile');
    expect((await failure(openIndex('x', { backend: 'opfs' }))).message).toContain("backend 'opfs' is not available here");
    expect((await failure(openIndex('x', { backend: 'floppy' as never }))).message).toContain("backend must be 'auto'");
  });
});
