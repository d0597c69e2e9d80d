import { expect, it } from 'vitest';
import { encodeDispatch, fenced } from '../src/gpu/dispatch.js';
import { bindingList, GPU_KERNELS } from '../src/gpu/kernels.js';
import { describeGpu, gpu } from './helpers/gpu.js';

/**
 * Pipelines, bind groups and buffers carry labels, so that a WebGPU validation error names the
 * kernel and the buffer involved instead of an anonymous object.
 */
describeGpu('WebGPU labels', () => {
  it('a validation error names the kernel and the offending buffer', async () => {
    const ctx = gpu!;
    const { device, resources } = ctx;
    const kernel = GPU_KERNELS.expand_pairs;
    const pipeline = await resources.pipeline('expand_pairs');
    expect(pipeline.label).toBe('expand_pairs');
    const graph0 = resources.storage(64, 'test graph');
    const expansions = resources.storage(64, 'test expansions');
    // A readback buffer cannot be bound as storage.
    const pairs = resources.readback(64, 'misused readback');
    const params = resources.params(kernel, { total: 1, m0: 1, groupsX: 1 });
    expect(params.label).toBe('expand_pairs.params');
    const failure = fenced(ctx, () => {
      const encoder = device.createCommandEncoder();
      encodeDispatch(device, encoder, pipeline, bindingList(kernel, { graph0, expansions, pairs, params }), { x: 1, y: 1 });
      device.queue.submit([encoder.finish()]);
    });
    await expect(failure).rejects.toThrow(/misused readback/);
    await expect(failure).rejects.toThrow(/expand_pairs/);
    for (const b of [graph0, expansions, params]) resources.release(b);
    pairs.destroy();
  });
});
