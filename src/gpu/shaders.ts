import { fail } from '../errors.js';

/**
 * WGSL sources by name (file basename in shaders/). They ship inside the library's JavaScript
 * (src/gpu/shader-sources.ts, generated from shaders/*.wgsl by the build), so the GPU path
 * works in Node, in any bundler and from a plain <script type="module"> with no set-up. They are
 * imported on the first GPU pipeline, not with the library: worker threads and CPU-only pages
 * never load them.
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

let embedded: Promise<Record<string, string>> | null = null;

export async function shaderSource(name: string): Promise<string> {
  const text = overrides.get(name) ?? (await (embedded ??= import('./shader-sources.js').then((m) => m.SHADER_SOURCES)))[name];
  return text ?? fail('NO_GPU', `WGSL shader '${name}' does not exist`);
}
