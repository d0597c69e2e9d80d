import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DenseDataset } from '../src/data/dense.js';
import { writeFvecs } from '../src/io/vecs.js';
import { loadIndexFile } from '../src/node/index-files.js';
import { loadMnist } from '../src/node/mnist.js';
import { cli, expectOk, lastJson, rng } from './helpers/cli.js';
import { ensureBuilt, runBin, startBin } from './helpers/cli-process.js';

// `kill -9` of `webannolo add` at random moments (starting, loading, linking), while it
// writes its temporary file, and just after its rename: afterwards the file always loads, as the index before the add or after it, and
// what the killed run left (its lock, its temporary file) never blocks the next run.
// WEBANNOLO_KILL_RUNS sets how many kills (default 20); WEBANNOLO_KILL_SEED the moments.

const RUNS = Number(process.env['WEBANNOLO_KILL_RUNS'] ?? 20);
const SEED = Number(process.env['WEBANNOLO_KILL_SEED'] ?? 20_231);
const N = 1000;
const ADD = 100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('CLI add killed with SIGKILL', () => {
  it(`the file is always the old or the new index, and the next run goes ahead (${RUNS} kills)`, {
    timeout: 60_000 + RUNS * 6_000,
  }, async () => {
    ensureBuilt();
    const dir = await mkdtemp(join(tmpdir(), 'webannolo-cli-kill-'));
    try {
      const p = (name: string) => join(dir, name);
      const { train } = loadMnist(N + ADD, 1);
      await writeFile(p('base.fvecs'), writeFvecs(new DenseDataset(train.data.slice(0, N * 784), 784)));
      await writeFile(p('more.fvecs'), writeFvecs(new DenseDataset(train.data.slice(N * 784, (N + ADD) * 784), 784)));
      const idx = p('idx.wann');
      expectOk(
        await cli('build', '--data', p('base.fvecs'), '--metric', 'l2', '--m', '8', '--ef-construction', '60', '--out', idx, '--quiet'),
      );
      const add = ['add', '--index', idx, '--data', p('more.fvecs'), '--threads', '1'];

      // One whole run: how long an add takes on this machine, start to exit.
      const t0 = performance.now();
      const first = await runBin(add);
      expectOk(first);
      let whole = performance.now() - t0;
      const recent = [whole];
      let items = N + ADD;
      expect(lastJson(first)['items']).toBe(items);

      const random = rng(SEED);
      const tempOf = () => readdirSync(dir).some((f) => f.startsWith('idx.wann.tmp-'));
      const kinds = ['anywhere', 'late', 'writing', 'renamed'] as const;
      const landed: Record<(typeof kinds)[number], number> = { anywhere: 0, late: 0, writing: 0, renamed: 0 };
      let killed = 0;
      let lockLeft = 0;
      let tempLeft = 0;
      for (let i = 0; i < RUNS; i++) {
        const kind = kinds[i % kinds.length]!;
        const inode = statSync(idx).ino;
        const t = performance.now();
        const running = startBin(add);
        const ended = running.done.then(() => performance.now());
        const alive = () => running.child.exitCode === null && running.child.signalCode === null;
        if (kind === 'anywhere' || kind === 'late') {
          // A moment anywhere in a whole run, or late in one (linking, writing, renaming).
          await sleep(kind === 'anywhere' ? random() * whole : whole * (0.6 + 0.7 * random()));
        } else {
          // Watch for the phase: its temporary file being written, or the file just renamed
          // (the lock not yet released), then kill at once.
          const seen = kind === 'writing' ? tempOf : () => statSync(idx).ino !== inode;
          while (alive() && !seen() && performance.now() - t < 4 * whole + 5000) await sleep(0);
        }
        if (alive()) landed[kind]++;
        running.child.kill('SIGKILL');
        const r = await running.done;
        if (r.signal === 'SIGKILL') killed++;
        else {
          expectOk(r);
          // A typical whole run: the median of the last few that finished (the file grows).
          recent.push((await ended) - t);
          if (recent.length > 5) recent.shift();
          whole = [...recent].sort((a, b) => a - b)[recent.length >> 1]!;
        }
        if (existsSync(`${idx}.lock`)) lockLeft++;
        if (tempOf()) tempLeft++;
        // The file loads (whole, its checksum right), as the index before this add or after it.
        const index = await loadIndexFile(idx);
        expect([items, items + ADD], `kill ${i} (${kind})`).toContain(index.size);
        if (r.signal === null) expect(index.size).toBe(items + ADD);
        items = index.size;
      }
      console.log(
        `${RUNS} runs (a whole run ${whole.toFixed(0)} ms): ${killed} killed (while running, by moment: ${JSON.stringify(landed)}), ${lockLeft} left their lock, ${tempLeft} left a temporary file; ${items} items`,
      );
      // Nothing left behind blocks the next run, and it leaves nothing behind itself.
      const next = await runBin(add);
      expectOk(next);
      expect(lastJson(next)['items']).toBe(items + ADD);
      expect(readdirSync(dir).filter((f) => f.includes('.lock') || f.includes('.tmp-'))).toEqual([]);
      // Most kills hit a running process (not one that had already finished).
      expect(killed).toBeGreaterThanOrEqual(Math.ceil(RUNS / 4));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
