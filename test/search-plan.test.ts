import { describe, expect, it } from 'vitest';
import { type BatchEvaluator, type Dataset, DenseDataset, type GpuContext, HnswIndex } from '../src/index.js';
import { RunRecord } from '../src/indexes/hnsw/batch/batch-run.js';
import { planSearch } from '../src/indexes/hnsw/batch/search-plan.js';
import { Snapshot } from '../src/indexes/hnsw/snapshot.js';
import { HostTimer } from '../src/util/host-timer.js';
import { Rng } from '../src/util/rng.js';

describe('RunRecord: the result strings come from what ran', () => {
  const ctx = { description: 'test adapter' } as GpuContext;

  it('the CPU alone: backend cpu, no GPU mode, the most threads that searched', () => {
    const r = new RunRecord();
    expect([r.backend, r.gpuMode, r.device, r.threads]).toEqual(['cpu', 'none', undefined, 1]);
    r.cpu(4);
    r.cpu(1);
    expect([r.backend, r.threads]).toEqual(['cpu', 4]);
  });

  it("the resident kernel: 'gpu', and 'gpu+cpu' once the CPU takes over queries after it", () => {
    const r = new RunRecord();
    r.cpu(1); // auto's timing prefix runs before the GPU: not a fallback
    r.accelerator('gpu', 'resident', ctx);
    expect([r.backend, r.gpuMode, r.device]).toEqual(['gpu', 'resident', 'test adapter']);
    r.cpu(1);
    expect(r.backend).toBe('gpu+cpu');
  });

  it("a caller's evaluator: its own name, no GPU mode or device; a fail-over adds '+cpu' unless it was the CPU", () => {
    const custom = new RunRecord();
    custom.accelerator('flaky', 'hybrid', null);
    expect([custom.backend, custom.gpuMode, custom.device]).toEqual(['flaky', 'none', undefined]);
    custom.failedOver();
    expect(custom.backend).toBe('flaky+cpu');
    const cpuEvaluator = new RunRecord();
    cpuEvaluator.accelerator('cpu', 'hybrid', ctx);
    cpuEvaluator.failedOver();
    expect([cpuEvaluator.backend, cpuEvaluator.gpuMode]).toEqual(['cpu', 'none']);
  });
});

describe('planSearch decides once per call', () => {
  const rng = new Rng(5);
  const n = 600;
  const data = new DenseDataset(
    Float32Array.from({ length: n * 8 }, () => rng.nextOpenUnit()),
    8,
  );
  const labels = Array.from({ length: n }, (_, i) => i % 10);
  const index = HnswIndex.build(data, { metric: 'l2', m: 8, efConstruction: 40, labels, layout: 'insertion' });
  const snap = new Snapshot(
    {
      graph: index.graph,
      store: index.store,
      rerankStore: null,
      keys: null,
      labels: index.labels,
      removed: index.removed,
      order: index.order,
    },
    { efConstruction: 40 },
  );
  const queries: Dataset = data.slice(0, 20);
  const search = { k: 5, ef: 20, rerank: 0, lambda: Infinity };
  const plan = (params: Parameters<typeof planSearch>[3]) => planSearch(snap, queries, search, params, new HostTimer());

  it('by default: every query on the CPU, unfiltered, no device opened', async () => {
    const p = await plan({ threads: 3 });
    expect([p.route.kind, p.filterOn, p.gpu, p.threads, p.queries.size]).toEqual(['cpu', 'none', null, 3, 20]);
  });

  it("a caller's evaluator takes the hybrid route in one lane, without a device", async () => {
    const evaluator = index.store.batchEvaluator() as BatchEvaluator;
    const p = await plan({ evaluator, batchSize: 7, width: 2 });
    expect(p.route).toMatchObject({ kind: 'hybrid', ctx: null, lanes: 1, batchSize: 7, width: 2 });
    if (p.route.kind === 'hybrid') expect(p.route.evaluator()).toBe(evaluator);
  });

  it('a narrow filter stays on the CPU even with backend gpu (decided before any device is asked for)', async () => {
    const p = await plan({ backend: 'gpu', gpu: null, filter: { label: 3 } });
    expect([p.route.kind, p.filterOn]).toEqual(['cpu', 'cpu']);
    expect(p.filters!.for(0)!.count).toBe(n / 10);
  });

  it("without an adapter: 'auto' plans the CPU, 'gpu' is NO_GPU", async () => {
    expect((await plan({ backend: 'auto', gpu: null })).route.kind).toBe('cpu');
    await expect(plan({ backend: 'gpu', gpu: null })).rejects.toMatchObject({ code: 'NO_GPU' });
  });

  it('checks its parameters before anything runs', async () => {
    await expect(plan({ gpuMode: 'fast' as never })).rejects.toThrow(/gpuMode must be/);
    await expect(plan({ hybridLanes: 0 })).rejects.toThrow(/hybridLanes/);
    await expect(plan({ filter: [{ label: 1 }] })).rejects.toThrow(/1 filters for 20 queries/);
  });
});
