import { fail } from '../errors.js';

/**
 * WGSL sources by name (file basename in shaders/). In Node they are read from the package's
 * shaders/ folder; in browsers the app registers them once, e.g. with Vite:
 *   registerShaderSources(import.meta.glob('../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true }))
 */
const sources = new Map<string, string>();

export function registerShaderSources(record: Record<string, string>): void {
  for (const [path, text] of Object.entries(record)) {
    const base = path.split('/').pop()!.replace(/\.wgsl(\?.*)?$/, '');
    sources.set(base, text);
  }
}

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

export async function shaderSource(name: string): Promise<string> {
  const known = sources.get(name);
  if (known !== undefined) return known;
  if (!isNode) {
    return fail('NO_GPU', `WGSL shader '${name}' is not registered: call registerShaderSources(...) with the shaders/*.wgsl sources first`);
  }
  const { readFile } = await import('node:fs/promises');
  // From src/gpu (tests on sources) or dist/src/gpu (the built package) up to shaders/.
  for (const up of ['../../shaders/', '../../../shaders/']) {
    try {
      const text = await readFile(new URL(`${up}${name}.wgsl`, import.meta.url), 'utf8');
      sources.set(name, text);
      return text;
    } catch {
      // try the next layout
    }
  }
  return fail('NO_GPU', `WGSL shader '${name}.wgsl' not found next to the webannolo package`);
}
