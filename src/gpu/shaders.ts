import { fail } from '../errors.js';
import { SHADER_SOURCES } from './shader-sources.js';

/**
 * WGSL sources by name (file basename in shaders/). They ship inside the library's JavaScript
 * (src/gpu/shader-sources.ts, generated from shaders/*.wgsl by the build), so the GPU path
 * works in Node, in any bundler and from a plain <script type="module"> with no set-up.
 */
const overrides = new Map<string, string>();

/**
 * Optional: replaces shaders by name (e.g. to try an edited kernel without rebuilding):
 * `{ 'path/to/dense_pairs.wgsl': text }` or `{ dense_pairs: text }`. Pipelines already made
 * with the old source stay cached on their device.
 */
export function registerShaderSources(record: Record<string, string>): void {
  for (const [path, text] of Object.entries(record)) {
    const base = path
      .split('/')
      .pop()!
      .replace(/\.wgsl(\?.*)?$/, '');
    overrides.set(base, text);
  }
}

export async function shaderSource(name: string): Promise<string> {
  const text = overrides.get(name) ?? SHADER_SOURCES[name];
  return text ?? fail('NO_GPU', `WGSL shader '${name}' does not exist`);
}
