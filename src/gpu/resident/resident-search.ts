import type { Dataset, GraphLayout, VectorStore } from '../../types.js';
import type { GpuContext } from '../device.js';
import { encodeDispatch, fenced, grid } from '../dispatch.js';
import { bindingList, GPU_KERNELS } from '../kernels.js';
import { shaderSource } from '../shaders.js';
import { GpuGraph, gpuGraph } from './graph-upload.js';
import { type ResidentLayout, residentLayout, teamSize } from './layout.js';
import { chunkSource, type ResidentStoreKernel } from './store-kernels.js';

/** Bindings the kernel itself uses: level 0, upper levels, output, and the store's query data. */
const FIXED_STORAGE_BINDINGS = 4;
const BEAM = GPU_KERNELS.beam_resident;
/** Output bytes one submit may read back; larger batches take several submits. */
const OUT_BYTES_PER_SUBMIT = 64 * 1024 * 1024;
/** Queries per submit, so that one submit stays well under watchdog time on slow GPUs. */
const MAX_QUERIES_PER_SUBMIT = 16384;

/** Best `outK` candidates of each query (internal distances, best first; id -1 when fewer). */
export interface ResidentBatch {
  readonly outK: number;
  readonly ids: Int32Array;
  readonly dists: Float32Array;
  /** Level-0 rounds and distances computed, per query. */
  readonly rounds: Uint32Array;
  readonly distanceCounts: Uint32Array;
}

export type ResidentSupport = { ok: true; searcher: ResidentSearcher } | { ok: false; reason: string };

/**
 * Runs HNSW search entirely on the GPU (shaders/beam_resident.wgsl): the upper-level descent
 * and the level-0 beam of every query in one dispatch, one workgroup per query. The host
 * uploads the queries and reads back each query's best candidates: one round trip per submit
 * of up to 16k queries.
 */
export class ResidentSearcher {
  private constructor(
    private readonly ctx: GpuContext,
    private readonly graph: GraphLayout,
    private readonly kernel: ResidentStoreKernel,
    readonly layout: ResidentLayout,
    readonly ef: number,
  ) {}

  /** A searcher for (graph, store, ef, width) on `ctx`, or why the resident kernel cannot run it. */
  static for(
    ctx: GpuContext,
    graph: GraphLayout,
    store: VectorStore,
    /** The store kind's snippet (made only when the layout fits: it uploads the store). */
    kernelOf: () => ResidentStoreKernel | null,
    ef: number,
    width: number,
  ): ResidentSupport {
    if (graph.entryPoint < 0) return { ok: false, reason: 'the graph is empty' };
    const layout = residentLayout(ctx.limits.maxComputeWorkgroupStorageSize, ef, width, graph.m0, graph.m);
    if ('error' in layout) return { ok: false, reason: layout.error };
    if (!GpuGraph.fits(ctx, graph)) return { ok: false, reason: 'the graph exceeds one GPU binding' };
    const kernel = kernelOf();
    if (kernel === null)
      return { ok: false, reason: `the resident kernel has no '${store.kind}' store snippet (or the store exceeds one binding)` };
    if (
      kernel.chunks.length >
      ctx.limits.maxStorageBuffersPerShaderStage - FIXED_STORAGE_BINDINGS - (kernel.bindingsBeforeChunks ?? 1) + 1
    ) {
      return { ok: false, reason: `the store spans ${kernel.chunks.length} GPU bindings, more than the resident kernel can bind` };
    }
    return { ok: true, searcher: new ResidentSearcher(ctx, graph, kernel, layout, ef) };
  }

  /** Queries one submit (one round trip) holds when each returns `outK` candidates. */
  queriesPerSubmit(outK: number): number {
    return Math.max(1, Math.min(MAX_QUERIES_PER_SUBMIT, Math.floor(OUT_BYTES_PER_SUBMIT / ((2 * outK + 2) * 4))));
  }

  /**
   * Searches queries [start, start+count) and returns the best `outK` of each query's beam:
   * one submit and one readback per queriesPerSubmit(outK) queries.
   */
  async search(queries: Dataset, start: number, count: number, outK: number): Promise<ResidentBatch> {
    const batch: ResidentBatch = {
      outK,
      ids: new Int32Array(count * outK),
      dists: new Float32Array(count * outK),
      rounds: new Uint32Array(count),
      distanceCounts: new Uint32Array(count),
    };
    const perSubmit = this.queriesPerSubmit(outK);
    for (let s = 0; s < count; s += perSubmit) {
      const n = Math.min(perSubmit, count - s);
      const words = await this.submit(queries, start + s, n, outK);
      unpack(words, n, outK, batch, s);
    }
    return batch;
  }

  /**
   * One submit: every dispatch of queries [start, start+count), then one readback, issued in
   * one fenced section once the pipelines are compiled.
   */
  private async submit(queries: Dataset, start: number, count: number, outK: number): Promise<Uint32Array> {
    const { device, resources } = this.ctx;
    const pipeline = await this.pipeline();
    await this.kernel.ready?.();
    const outBytes = count * (2 * outK + 2) * 4;
    const releases: (() => void)[] = [];
    const perDispatch = this.kernel.maxQueriesPerDispatch;
    try {
      const bytes = await fenced(this.ctx, () => {
        const g = gpuGraph(this.ctx, this.graph);
        const outBuf = resources.storage(outBytes, 'beam_resident.out');
        releases.push(() => resources.release(outBuf));
        const readBuf = resources.readback(outBytes, 'beam_resident.out readback');
        const encoder = device.createCommandEncoder();
        for (let d = 0; d < count; d += perDispatch) {
          const n = Math.min(perDispatch, count - d);
          const prepared = this.kernel.prepare(encoder, queries, start + d, n);
          releases.push(prepared.release);
          const groups = grid(n);
          const params = resources.params(BEAM, {
            queryCount: n,
            queryBase: d,
            // The snippet's per-query data holds this dispatch's queries only.
            slotBase: d,
            groupsX: groups.x,
            ef: this.ef,
            outK,
            entry: this.graph.entryPoint,
            maxLevel: this.graph.maxLevel,
            // The safety bound on level-0 rounds never cuts a search short: a round expands at
            // least one node, and no node twice.
            maxIters: this.graph.n,
          });
          releases.push(() => resources.release(params));
          const fixed = bindingList(BEAM, { graph0: g.level0, upper: g.upper, out: outBuf, params });
          encodeDispatch(device, encoder, pipeline, [...fixed, ...prepared.bindings, ...this.kernel.chunks], groups);
        }
        encoder.copyBufferToBuffer(outBuf, 0, readBuf, 0, outBytes);
        device.queue.submit([encoder.finish()]);
        return resources.read(readBuf, outBytes);
      });
      return new Uint32Array(bytes, 0, outBytes / 4);
    } finally {
      for (const r of releases) r();
    }
  }

  private pipeline(): Promise<GPUComputePipeline> {
    const { kernel, layout, graph } = this;
    const chunks = kernel.chunkElement === null ? 0 : kernel.chunks.length;
    const key = `beam_resident+${kernel.shader}/${chunks}`;
    const code = async () => {
      let snippet = await shaderSource(kernel.shader);
      if (kernel.chunkElement !== null) {
        const marker = `// @chunks ${kernel.chunkElement}`;
        snippet = snippet.replace(
          marker,
          chunkSource(kernel.chunkElement, chunks, FIXED_STORAGE_BINDINGS + (kernel.bindingsBeforeChunks ?? 1)),
        );
      }
      return `${snippet}\n${await shaderSource('beam_resident')}`;
    };
    return this.ctx.resources.pipelineOf(key, code, {
      ...kernel.constants,
      EF_CAP: layout.efCap,
      CAND_CAP: layout.candCap,
      HASH_SIZE: layout.hashSize,
      TEAM: teamSize(kernel.itemsPerDistance),
      WIDTH: layout.width,
      M0: graph.m0,
      M: graph.m,
    });
  }
}

function unpack(words: Uint32Array, count: number, outK: number, batch: ResidentBatch, at: number): void {
  const f = new Float32Array(words.buffer, words.byteOffset, words.length);
  const rowWords = 2 * outK + 2;
  for (let q = 0; q < count; q++) {
    const row = q * rowWords;
    const dst = (at + q) * outK;
    for (let r = 0; r < outK; r++) {
      const id = words[row + 2 * r + 1]!;
      batch.ids[dst + r] = id === 0xffffffff ? -1 : id;
      batch.dists[dst + r] = f[row + 2 * r]!;
    }
    batch.rounds[at + q] = words[row + 2 * outK]!;
    batch.distanceCounts[at + q] = words[row + 2 * outK + 1]!;
  }
}
