import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DenseDataset } from '../src/data/dense.js';
import { HnswIndex } from '../src/indexes/hnsw/hnsw-index.js';
import { writeFvecs } from '../src/io/vecs.js';
import { FileLock } from '../src/node/file-lock.js';
import { loadIndexFile } from '../src/node/index-files.js';
import { loadMnist } from '../src/node/mnist.js';
import { processStart } from '../src/node/processes.js';
import { cli, expectOk, expectOneLineError, lastJson } from './helpers/cli.js';
import { ensureBuilt, runBin, startBin } from './helpers/cli-process.js';

// webannolo add/remove on one file: an exclusive lock (INDEX.lock) for the whole
// load-change-write, so that two runs never both rename over the file and lose one's change;
// locks and temporary files of dead processes are cleaned up; a file replaced by another
// program meanwhile is not overwritten. Real processes where it matters (bin/webannolo.js).

const N = 1000;
const SET = 150; // rows per added set
const SETS = ['a0', 'b0', 'a1', 'b1', 'a2', 'b2', 'c', 'd'];

describe('CLI add/remove: one change at a time per file', () => {
  let dir: string;
  const p = (name: string) => join(dir, name);
  const keysOf = (set: string) => Array.from({ length: SET }, (_, i) => `${set}-${i}`);
  const addArgs = (idx: string, set: string, ...more: string[]) => [
    'add',
    '--index',
    idx,
    '--data',
    p(`${set}.fvecs`),
    '--keys',
    p(`${set}.txt`),
    '--threads',
    '1',
    ...more,
  ];
  /** A fresh copy of the built index. */
  const copy = async (name: string) => {
    await copyFile(p('base.wann'), p(name));
    return p(name);
  };
  const leftovers = () => readdirSync(dir).filter((f) => f.includes('.lock') || f.includes('.tmp-'));
  const load = async (idx: string) => (await loadIndexFile(idx)) as HnswIndex;

  beforeAll(async () => {
    ensureBuilt();
    dir = await mkdtemp(join(tmpdir(), 'webannolo-cli-locks-'));
    const { train } = loadMnist(N + SETS.length * SET, 1);
    const rows = (from: number, to: number) => new DenseDataset(train.data.slice(from * 784, to * 784), 784);
    await writeFile(p('base.fvecs'), writeFvecs(rows(0, N)));
    await writeFile(p('base.txt'), `${Array.from({ length: N }, (_, i) => `img-${i}`).join('\n')}\n`);
    for (const [s, set] of SETS.entries()) {
      await writeFile(p(`${set}.fvecs`), writeFvecs(rows(N + s * SET, N + (s + 1) * SET)));
      await writeFile(p(`${set}.txt`), `${keysOf(set).join('\n')}\n`);
    }
    expectOk(
      await cli(
        'build',
        '--data',
        p('base.fvecs'),
        '--keys',
        p('base.txt'),
        '--metric',
        'l2',
        '--m',
        '8',
        '--ef-construction',
        '60',
        '--out',
        p('base.wann'),
        '--quiet',
      ),
    );
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a second add while another holds the lock fails at once naming it; --wait waits for it', async () => {
    const idx = await copy('held.wann');
    const before = await readFile(idx);
    const lock = await FileLock.acquire(idx, { command: 'webannolo add' });
    try {
      const t0 = performance.now();
      const r = await runBin(addArgs(idx, 'a0'));
      expectOneLineError(
        r,
        new RegExp(
          `another webannolo add \\(pid ${process.pid}, since [^)]+\\) is changing .*held\\.wann: wait for it to finish, or give --wait SECONDS`,
        ),
        1,
      );
      expect(performance.now() - t0).toBeLessThan(30_000);
      const short = await runBin(addArgs(idx, 'a0', '--wait', '0.3'));
      expectOneLineError(short, /is changing .*held\.wann \(waited 300 ms\): give a longer --wait/, 1);
      expect(Buffer.compare(await readFile(idx), before)).toBe(0);

      // --wait: the run goes ahead once the holder lets go.
      const waiting = startBin(addArgs(idx, 'a0', '--wait', '120'));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(Buffer.compare(await readFile(idx), before)).toBe(0);
      await lock.release();
      const w = await waiting.done;
      expectOk(w);
      expect(lastJson(w)).toMatchObject({ added: SET, items: N + SET });
    } finally {
      await lock.release();
    }
    const index = await load(idx);
    expect(keysOf('a0').every((k) => index.has(k))).toBe(true);
    expect(leftovers()).toEqual([]);
  });

  it('two concurrent add runs (real processes): every acknowledged change is in the file', async () => {
    const idx = await copy('race.wann');
    const present: string[] = [];
    const absent: string[] = [];
    const outcomes: string[] = [];
    for (const round of [0, 1, 2]) {
      const sets = [`a${round}`, `b${round}`];
      const runs = await Promise.all(sets.map((set) => runBin(addArgs(idx, set))));
      expect(runs.some((r) => r.code === 0)).toBe(true);
      for (const [i, r] of runs.entries()) {
        if (r.code === 0) present.push(...keysOf(sets[i]!));
        else {
          expectOneLineError(r, /another webannolo add \(pid \d+, since [^)]+\) is changing .*race\.wann/, 1);
          absent.push(...keysOf(sets[i]!));
        }
      }
      outcomes.push(runs.map((r) => (r.code === 0 ? 'ok' : 'locked')).join('+'));
      const index = await load(idx);
      expect(index.size).toBe(N + present.length);
      expect(present.filter((k) => !index.has(k))).toEqual([]);
      expect(absent.filter((k) => index.has(k))).toEqual([]);
    }
    // With --wait both go ahead, one after the other: an add and a remove.
    const gone = keysOf(present[0]!.split('-')[0]!).slice(0, 40);
    await writeFile(p('gone.txt'), `${gone.join('\n')}\n`);
    const [added, removed] = await Promise.all([
      runBin(addArgs(idx, 'c', '--wait', '120')),
      runBin(['remove', '--index', idx, '--keys', p('gone.txt'), '--wait', '120']),
    ]);
    expectOk(added);
    expectOk(removed);
    const index = await load(idx);
    expect(index.size).toBe(N + present.length + SET - gone.length);
    expect(keysOf('c').every((k) => index.has(k))).toBe(true);
    expect(gone.some((k) => index.has(k))).toBe(false);
    expect(leftovers()).toEqual([]);
    console.log(`concurrent adds: ${outcomes.join(', ')}`);
  });

  /** A pid no process has now: one of a process that has ended. */
  const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!;
  const lockText = (fields: Record<string, unknown>) =>
    `${JSON.stringify({ pid: deadPid(), host: hostname(), start: null, since: '2020-01-01T00:00:00.000Z', command: 'webannolo add', token: 'feedfeedfeedfeed', ...fields })}\n`;

  it("a lock and temporary files left by a dead process are cleaned up; a live one's temporary file is kept", async () => {
    const idx = await copy('stale.wann');
    const dead = deadPid();
    await writeFile(`${idx}.lock`, lockText({ pid: dead }));
    await writeFile(`${idx}.tmp-${dead}-0123456789ab`, 'half an index');
    await writeFile(`${idx}.lock.tmp-${dead}-0123456789ab`, 'a lock being placed');
    // pid 1 always runs: its file is not ours to remove.
    await writeFile(`${idx}.tmp-1-00aa00aa00aa`, 'someone else writing');
    expectOk(await cli(...addArgs(idx, 'a0')));
    expect(leftovers()).toEqual(['stale.wann.tmp-1-00aa00aa00aa']);
    await rm(`${idx}.tmp-1-00aa00aa00aa`);
    expect((await load(idx)).has('a0-0')).toBe(true);
  });

  it.skipIf(processStart(process.pid) === null)(
    'a lock naming a pid now held by a process that started at another time is stale',
    async () => {
      const idx = await copy('reused.wann');
      await writeFile(`${idx}.lock`, lockText({ pid: process.pid, start: '1' }));
      expectOk(await cli(...addArgs(idx, 'a0')));
      expect(leftovers()).toEqual([]);
    },
  );

  it('a lock of a process on another machine is respected; an unreadable lock is taken over only once old', async () => {
    const idx = await copy('foreign.wann');
    const before = await readFile(idx);
    await writeFile(`${idx}.lock`, lockText({ host: 'elsewhere.example' }));
    expectOneLineError(
      await cli(...addArgs(idx, 'a0')),
      /another webannolo add \(pid \d+ on elsewhere\.example, since [^)]+\) is changing .*foreign\.wann: if that process no longer runs, delete .*foreign\.wann\.lock/,
      1,
    );
    await writeFile(`${idx}.lock`, '{"pid": 12');
    expectOneLineError(
      await cli(...addArgs(idx, 'a0')),
      /foreign\.wann is locked by .*foreign\.wann\.lock, which another process is creating or which is damaged/,
      1,
    );
    expect(Buffer.compare(await readFile(idx), before)).toBe(0);
    const old = new Date(Date.now() - 60_000);
    await utimes(`${idx}.lock`, old, old);
    expectOk(await cli(...addArgs(idx, 'a0')));
    expect(leftovers()).toEqual([]);
  });

  it('a failed change releases the lock', async () => {
    const idx = await copy('failing.wann');
    await writeFile(p('unknown.txt'), 'nope\n');
    expectOneLineError(await cli('remove', '--index', idx, '--keys', p('unknown.txt')), /key "nope" is not in the index/, 1);
    expect(leftovers()).toEqual([]);
  });

  it.skipIf(process.platform === 'win32')(
    'a file replaced by another program while add runs is not overwritten: nothing written, one line',
    async () => {
      const idx = await copy('replaced.wann');
      // The vectors come through a named pipe: the add waits on it after loading the index,
      // while the file is replaced behind its back.
      const fifo = p('slow.fvecs');
      execFileSync('mkfifo', [fifo]);
      const running = cli('add', '--index', idx, '--data', fifo, '--keys', p('a0.txt'), '--threads', '1');
      for (let i = 0; i < 200 && !existsSync(`${idx}.lock`); i++) await new Promise((resolve) => setTimeout(resolve, 25));
      expect(existsSync(`${idx}.lock`)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 300)); // let it load the index
      const other = HnswIndex.build(
        new DenseDataset(
          new Float32Array(20 * 784).map((_, i) => i % 7),
          784,
        ),
        { metric: 'l2', m: 4 },
      );
      const { serializeIndex } = await import('../src/indexes/index-codec.js');
      const replacement = serializeIndex(other);
      await writeFile(p('other.tmp'), replacement);
      await rename(p('other.tmp'), idx);
      await writeFile(fifo, await readFile(p('a0.fvecs')));
      expectOneLineError(
        await running,
        /replaced\.wann was replaced or rewritten by another program while this change ran: nothing was written/,
        1,
      );
      expect(Buffer.compare(await readFile(idx), replacement)).toBe(0);
      await rm(fifo);
      expect(leftovers()).toEqual([]);
    },
  );

  it('the help of add and remove tells about the lock and --wait', async () => {
    for (const command of ['add', 'remove']) {
      const help = await cli('help', command);
      expectOk(help);
      expect(help.stdout).toContain('--wait SECONDS');
      expect(help.stdout).toContain('INDEX.lock');
    }
  });
});
