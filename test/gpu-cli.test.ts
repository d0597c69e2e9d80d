import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { writeFvecs } from '../src/io/vecs.js';
import { cli, lastJson } from './helpers/cli.js';
import { loadMnistWithTruth } from './helpers/data.js';
import { describeGpu, gpu } from './helpers/gpu.js';

/** A run plus its JSON line (when it succeeded). */
async function run(...argv: string[]) {
  const r = await cli(...argv);
  return { ...r, json: r.code === 0 ? lastJson(r) : {} };
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describeGpu('webannolo search --backend', () => {
  it('reports what really ran: gpu with the device, auto, cpu, and a usage error without --batch', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webannolo-gpu-cli-'));
    dirs.push(dir);
    const { base, queries } = await loadMnistWithTruth(20_000, 1_000);
    await writeFile(join(dir, 'base.fvecs'), writeFvecs(base.slice(0, 1500)));
    await writeFile(join(dir, 'q.fvecs'), writeFvecs(queries.slice(0, 80)));
    const index = join(dir, 'i.wann');
    expect(
      (
        await run(
          'build',
          '--data',
          join(dir, 'base.fvecs'),
          '--metric',
          'l2',
          '--m',
          '8',
          '--ef-construction',
          '40',
          '--out',
          index,
          '--quiet',
        )
      ).code,
    ).toBe(0);
    const common = ['search', '--index', index, '--queries', join(dir, 'q.fvecs'), '--k', '5', '--ef', '32', '--out', join(dir, 'r.ivecs')];
    const onGpu = await run(...common, '--batch', '80', '--backend', 'gpu', '--width', '2');
    expect(onGpu.code, onGpu.stderr).toBe(0);
    expect(onGpu.json['backend']).toBe('gpu');
    expect(onGpu.json['device']).toBe(gpu!.description);
    expect(onGpu.json['gpuMode']).toBe('resident');
    expect(onGpu.json['roundTrips']).toBe(1);
    for (const c of ['bytesUp', 'bytesDown', 'hostMs']) expect(onGpu.json[c]).toBeGreaterThan(0);
    const hybrid = await run(...common, '--batch', '80', '--backend', 'gpu', '--gpu-mode', 'hybrid');
    expect(hybrid.json['gpuMode']).toBe('hybrid');
    expect(hybrid.json['roundTrips']).toBeGreaterThan(1);
    // On a software adapter 'auto' measures the CPU as faster and keeps the batch there.
    expect((await run(...common, '--batch', '80', '--backend', 'auto')).json['backend']).toBe(gpu!.software ? 'cpu' : 'gpu');
    expect((await run(...common, '--batch', '10', '--backend', 'auto')).json['backend']).toBe('cpu');
    const cpu = await run(...common, '--batch', '80');
    expect(cpu.json['backend']).toBe('cpu');
    expect(cpu.json['device']).toBeUndefined();
    expect(cpu.json['gpuMode']).toBe('none');
    expect((await run(...common, '--batch', '80', '--gpu-mode', 'hybrid')).stderr).toMatch(/--gpu-mode needs --backend gpu or auto/);
    const noBatch = await run(...common, '--backend', 'gpu');
    expect(noBatch.code).toBe(2);
    expect(noBatch.stderr).toMatch(/--backend gpu needs --batch N/);
  });
});
