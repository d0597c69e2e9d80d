import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { vouchFinite } from '../src/data/dense.js';
import { DenseDataset, HnswIndex, ScalarQuantizer, serializeIndex, WebannoloError } from '../src/index.js';
import { readContainerLayout } from '../src/io/container.js';
import { crc32 } from '../src/io/crc32.js';
import { loadIndexFile } from '../src/node/index-files.js';
import { Rng } from '../src/util/rng.js';

const dir = mkdtempSync(join(tmpdir(), 'webannolo-open-checks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rng = new Rng(5);
const dim = 12;
const data = new DenseDataset(
  Float32Array.from({ length: 300 * dim }, () => rng.nextOpenUnit()),
  dim,
);
const index = HnswIndex.build(data, { metric: 'l2', m: 8, efConstruction: 40, seed: 2 });

/** The file with `value` written into float `at` of section `name`, and its checksum made right again. */
function withValue(bytes: Uint8Array, name: string, at: number, value: number): Uint8Array {
  const out = bytes.slice();
  const entry = readContainerLayout(out, out.length).entries.find((e) => e.name === name)!;
  new DataView(out.buffer).setFloat32(entry.offset + 4 * at, value, true);
  new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

async function loadError(bytes: Uint8Array, options: Parameters<typeof loadIndexFile>[1]): Promise<string> {
  const path = join(dir, `f${rng.nextU32()}.wann`);
  writeFileSync(path, bytes);
  try {
    await loadIndexFile(path, options);
    return 'loaded';
  } catch (e) {
    return e instanceof WebannoloError ? `${e.code}: ${e.message}` : String(e);
  }
}

describe('opening checks the vectors while reading them', () => {
  // The streamed loader checks each piece for NaN/Infinity as it arrives and spares the
  // dataset its own pass; a file whose checksum is right but whose vectors are not must
  // still be refused, naming the row and component, whatever the piece boundaries.
  it.each([
    ['store.vectors', index],
    ['rerank.vectors', index.quantize(new ScalarQuantizer('sq8'))],
  ] as const)('refuses a non-finite value in %s, in pieces of every alignment', async (section, built) => {
    const bytes = serializeIndex(built);
    expect(await loadError(bytes, { stream: true })).toBe('loaded');
    for (const [at, value] of [
      [0, Number.NaN],
      [7 * dim + 3, Number.POSITIVE_INFINITY],
      [300 * dim - 1, Number.NEGATIVE_INFINITY],
    ] as const) {
      const bad = withValue(bytes, section, at, value);
      for (const chunkBytes of [1 << 20, 4096, 1001, 6]) {
        const outcome = await loadError(bad, { stream: true, chunkBytes });
        expect(outcome, `${section} float ${at}, chunks of ${chunkBytes}`).toMatch(
          new RegExp(
            `^CORRUPT_FILE: .*vector ${Math.floor(at / dim)} has a non-finite value \\(${String(value)}\\) at component ${at % dim}`,
          ),
        );
      }
    }
  });

  it('a vouched view spares one dataset its check, and only exactly that view', () => {
    const values = Float32Array.of(1, 2, Number.NaN, 4);
    vouchFinite(values);
    expect(() => new DenseDataset(values.subarray(0, 4), 2)).not.toThrow(); // the loader's word, once
    expect(() => new DenseDataset(values, 2)).toThrow(/non-finite/);
    vouchFinite(values.subarray(0, 2));
    expect(() => new DenseDataset(values, 2)).toThrow(/non-finite/); // another view: checked
  });
});
