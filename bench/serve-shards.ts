/**
 * The NATS part of the service benchmark (bench/serve.ts): MNIST built into 1 and into N shard
 * files by `webannolo build --shards`, each shard served by a `webannolo serve --nats` replica,
 * the HTTP API by a gateway (`serve --nats --gateway`); the same load at one concurrency,
 * JSON and binary bodies, through the gateway. A fresh nats-server for the run, fresh replicas
 * and gateway per configuration.
 */
import { join } from 'node:path';
import type { BodyKind } from './serve-load.js';
import { type Proc, runCli, startCli, startHttpServer, startNats } from './serve-procs.js';
import type { Measured } from './serve-report.js';

export interface ShardRun {
  readonly shards: number;
  readonly body: BodyKind;
  readonly concurrency: number;
  /** Seconds `webannolo build --shards` took for this shard count (every file). */
  readonly buildSeconds: number;
  /** Share of the in-process index's top-k ids of queries 0..9 in the gateway's answers (other graphs: close to 1, not 1). */
  readonly overlap: number;
  readonly load: Measured;
}

export interface ShardOptions {
  readonly natsServer: string;
  /** The MNIST training images (idx3-ubyte), first `n` rows indexed. */
  readonly data: string;
  readonly n: number;
  readonly m: number;
  readonly efConstruction: number;
  readonly threads: number;
  readonly shardCounts: readonly number[];
  readonly concurrency: number;
  /** Where the shard files go. */
  readonly dir: string;
  readonly measure: (url: string, kind: BodyKind, connections: number, pids: readonly number[]) => Promise<Measured>;
  readonly overlap: (url: string, kind: BodyKind) => Promise<number>;
}

/** Builds the shard files of every count, then measures each (count, body) through a gateway. */
export async function runShardConfigs(o: ShardOptions): Promise<ShardRun[]> {
  const builds = new Map<number, { files: string[]; seconds: number }>();
  for (const count of o.shardCounts) {
    const t0 = performance.now();
    const report = await runCli([
      'build',
      '--data',
      o.data,
      '--metric',
      'l2',
      '--limit',
      String(o.n),
      '--m',
      String(o.m),
      '--ef-construction',
      String(o.efConstruction),
      '--threads',
      String(o.threads),
      '--shards',
      String(count),
      '--out',
      join(o.dir, `mnist-shards-${count}.wann`),
      '--quiet',
    ]);
    const files = report['files'];
    if (!Array.isArray(files) || files.length !== count)
      throw new Error(`build --shards ${count} reported no list of ${count} files: ${JSON.stringify(report).slice(0, 500)}`);
    builds.set(count, { files: files.map(String), seconds: +((performance.now() - t0) / 1000).toFixed(1) });
    console.log(`built ${count} shard file(s) in ${builds.get(count)!.seconds} s`);
  }
  const nats = await startNats(o.natsServer);
  const runs: ShardRun[] = [];
  try {
    for (const count of o.shardCounts)
      for (const body of ['json', 'binary'] as const) {
        const service = `bench${count}${body}`;
        const procs: Proc[] = [];
        try {
          const { files, seconds } = builds.get(count)!;
          for (let shard = 0; shard < count; shard++) {
            const args = ['serve', '--index', files[shard]!, '--nats', nats.url, '--service', service];
            args.push('--shard', String(shard), '--shards', String(count), '--threads', String(o.threads), '--backend', 'cpu');
            procs.push(await startCli(`shard ${shard} of ${count}`, args, (line) => line['shard'] === shard));
          }
          const gateway = await startHttpServer(`gateway (${count} shards)`, [
            '--nats',
            nats.url,
            '--service',
            service,
            '--shards',
            String(count),
            '--gateway',
            '--port',
            '0',
          ]);
          procs.push(gateway.proc);
          const overlap = await o.overlap(gateway.url, body);
          const load = await o.measure(
            gateway.url,
            body,
            o.concurrency,
            procs.map((p) => p.child.pid!),
          );
          runs.push({ shards: count, body, concurrency: o.concurrency, buildSeconds: seconds, overlap, load });
          console.log(`${count} shard(s), ${body}, c${o.concurrency} through the gateway:`, load, 'overlap', overlap);
        } finally {
          // The gateway first (it is the last started), then the replicas.
          for (const p of procs.reverse()) await p.stop();
        }
      }
  } finally {
    await nats.proc.stop();
  }
  return runs;
}
