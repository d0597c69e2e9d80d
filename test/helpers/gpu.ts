import { existsSync } from 'node:fs';
import { describe, it } from 'vitest';
import { type GpuContext, requestGpu } from '../../src/index.js';

/**
 * WebGPU for tests. Without a GPU, Dawn runs on SwiftShader (Debian's chromium ships it):
 * point Vulkan at it before the first device is created, unless the environment chose already.
 */
const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env['VK_ICD_FILENAMES'] && existsSync(SWIFTSHADER)) process.env['VK_ICD_FILENAMES'] = SWIFTSHADER;
process.env['XDG_RUNTIME_DIR'] ??= '/tmp';

export const gpu: GpuContext | null = await requestGpu();

const inCi = process.env['CI'] === 'true';
let announced = false;

/** describe() for GPU tests: skipped with one line where no adapter exists, a failure in CI. */
export function describeGpu(name: string, fn: () => void): void {
  if (gpu === null && inCi) {
    describe(name, () => {
      it('needs a WebGPU adapter', () => {
        throw new Error('CI=true but no WebGPU adapter: install chromium and libvulkan1 (SwiftShader) as .ci/run does');
      });
    });
    return;
  }
  if (gpu === null && !announced) {
    announced = true;
    console.log('no WebGPU adapter (install chromium + libvulkan1 for SwiftShader): skipping GPU tests');
  }
  describe.skipIf(gpu === null)(name, fn);
}
