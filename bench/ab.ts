/**
 * A/B of two builds of webannolo on the SAME index file, in one process, searched in
 * alternation (round by round, ef by ef, build by build), so both see the same machine load.
 * For checking that a change kept search speed: build the other revision into its own folder
 * (git worktree + `npm run build`), then
 *
 *   npm run build && node dist/bench/ab.js --a /path/to/other/dist/src --index /tmp/mnist.wann
 *
 * Without --index it builds an MNIST 60k index (M 16, efConstruction 200) with this build and
 * saves it there first. Queries: the first --nq MNIST test images. Single queries on the calling
 * thread (index.search) and, with --batch, CPU searchBatch on one thread. Recall@10 is plain
 * |found ∩ true top-10| / 10 against exact search; QPS per point is the median of --rounds timed
 * passes, each at least --min-ms long after a warm-up pass. Prints one JSON line per point.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string', default: resolve(import.meta.dirname, '..', 'src') },
    index: { type: 'string', default: '/tmp/webannolo-ab-mnist.wann' },
    nq: { type: 'string', default: '1000' },
    efs: { type: 'string', default: '16,32,64' },
    rounds: { type: 'string', default: '5' },
    'min-ms': { type: 'string', default: '1000' },
    batch: { type: 'boolean', default: false },
  },
});
if (!values.a) throw new Error('--a: the dist/src folder of the build to compare against');

type Lib = typeof import('../src/index.js');
type NodeLib = typeof import('../src/node/index.js');
interface Build {
  name: string;
  lib: Lib;
  node: NodeLib;
}
async function load(name: string, dir: string): Promise<Build> {
  const lib = (await import(pathToFileURL(resolve(dir, 'index.js')).href)) as Lib;
  const node = (await import(pathToFileURL(resolve(dir, 'node', 'index.js')).href)) as NodeLib;
  return { name, lib, node };
}
const builds = [await load('a', values.a), await load('b', values.b!)];
const b = builds[1]!;
const mnist = b.node.loadMnist();
const nq = Math.min(Number(values.nq), mnist.test.size);
const efs = values.efs!.split(',').map(Number);
const rounds = Number(values.rounds);
const minMs = Number(values['min-ms']);
const k = 10;

if (!existsSync(values.index!)) {
  const t = performance.now();
  const built = b.lib.HnswIndex.build(mnist.train, { metric: 'l2', m: 16, efConstruction: 200, seed: 1 });
  process.stderr.write(`built MNIST ${mnist.train.size} in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
  await b.node.saveIndexFile(built, values.index!);
}
const queries = Array.from({ length: nq }, (_, q) => mnist.test.get(q));
const truth = b.lib.FlatIndex.build(mnist.train, { metric: 'l2' });
const exact = queries.map((q) => new Set(truth.search(q, k).ids));
const indexes = await Promise.all(builds.map((x) => x.node.loadIndexFile(values.index!)));

function recallOf(ids: ArrayLike<number>[]): number {
  let hit = 0;
  for (let q = 0; q < nq; q++) for (let j = 0; j < k; j++) if (exact[q]!.has(ids[q]![j]!)) hit++;
  return hit / (nq * k);
}

async function pass(i: number, ef: number, batch: boolean): Promise<{ qps: number; recall: number }> {
  const index = indexes[i] as InstanceType<Lib['HnswIndex']>;
  const out: ArrayLike<number>[] = [];
  const start = performance.now();
  let passes = 0;
  do {
    out.length = 0;
    if (batch) {
      const r = await index.searchBatch(queries, k, { ef, threads: 1 });
      for (let q = 0; q < nq; q++) out.push(r.ids.subarray(q * k, q * k + k));
    } else for (const q of queries) out.push(index.search(q, k, { ef }).ids);
    passes++;
  } while (performance.now() - start < minMs);
  return { qps: (passes * nq) / ((performance.now() - start) / 1000), recall: recallOf(out) };
}

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const modes = values.batch ? [false, true] : [false];
for (const batch of modes) {
  const qps = new Map<string, number[]>();
  const recall = new Map<string, number>();
  for (let i = 0; i < builds.length; i++) for (const ef of efs) await pass(i, ef, batch); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const ef of efs) {
      for (let i = 0; i < builds.length; i++) {
        const key = `${ef}:${i}`;
        const p = await pass(i, ef, batch);
        qps.set(key, [...(qps.get(key) ?? []), p.qps]);
        recall.set(key, p.recall);
      }
    }
  }
  for (const ef of efs) {
    const [qa, qb] = [median(qps.get(`${ef}:0`)!), median(qps.get(`${ef}:1`)!)];
    console.log(
      JSON.stringify({
        mode: batch ? 'searchBatch(1 thread)' : 'search',
        ef,
        recallA: recall.get(`${ef}:0`),
        recallB: recall.get(`${ef}:1`),
        qpsA: Math.round(qa),
        qpsB: Math.round(qb),
        ratioBA: Number((qb / qa).toFixed(3)),
        roundsB: qps.get(`${ef}:1`)!.map((x) => Math.round(x)),
        roundsA: qps.get(`${ef}:0`)!.map((x) => Math.round(x)),
      }),
    );
  }
}
await b.lib.closeWorkers();
