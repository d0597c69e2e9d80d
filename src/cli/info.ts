import { fail } from '../errors.js';
import { loadIndexFile, readIndexHeader } from '../node/index.js';
import { aboutFile, bool, type Command, formatBytes, println, round, str } from './args.js';

const DTYPE_BYTES: Record<string, number> = { u8: 1, u32: 4, i32: 4, f32: 4 };

interface SectionInfo {
  name: string;
  dtype: string;
  length: number;
  bytes: number;
}

/** A header field as a number, or null when the (untrusted) header lacks it. */
function numberField(obj: unknown, key: string): number | null {
  if (typeof obj !== 'object' || obj === null) return null;
  const v = (obj as Record<string, unknown>)[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function stringField(obj: unknown, key: string): string | null {
  if (typeof obj !== 'object' || obj === null) return null;
  const v = (obj as Record<string, unknown>)[key];
  return typeof v === 'string' ? v : null;
}

/** `webannolo info`: what an index file holds, from its header. */
export const infoCommand: Command = {
  name: 'info',
  summary: 'describe an index file: type, metric, sizes, graph parameters, sections',
  synopsis: '--index INDEX [--header-only]',
  flags: [
    { name: 'index', type: 'string', placeholder: 'INDEX', required: true, help: 'index file to describe' },
    { name: 'header-only', type: 'boolean', help: 'read the header only: skip verifying the checksum and the data' },
  ],
  async run(args, io) {
    const path = str(args, 'index');
    // The header alone (any size of file); the full load checks the checksum, every section and
    // the graph's links (streaming files over 1 GiB).
    const { header, fileBytes, version } = await aboutFile(path, () => readIndexHeader(path));
    const verified = !bool(args, 'header-only');
    if (verified) await aboutFile(path, () => loadIndexFile(path));

    const indexType = stringField(header, 'index') ?? '?';
    const metric = stringField(header, 'metric') ?? '?';
    const store = header['store'];
    const storeKind = stringField(store, 'kind') ?? '?';
    const graph = header['graph'];
    const n = numberField(store, 'size') ?? numberField(graph, 'n');
    const dim = numberField(store, 'dim');
    if (n === null || dim === null) await aboutFile(path, () => fail('CORRUPT_FILE', 'index header lacks the item count or dimension'));

    const sections: SectionInfo[] = (Array.isArray(header.sections) ? header.sections : []).map((e) => {
      const dtype = stringField(e, 'dtype') ?? '?';
      const length = numberField(e, 'length') ?? 0;
      return { name: stringField(e, 'name') ?? '?', dtype, length, bytes: length * (DTYPE_BYTES[dtype] ?? 0) };
    });
    // Bytes of each part of the file: sections are named <part>.<name> (store., graph., ...).
    const parts: Record<string, number> = {};
    for (const sec of sections) {
      const part = sec.name.includes('.') ? sec.name.slice(0, sec.name.indexOf('.')) : sec.name;
      parts[part] = (parts[part] ?? 0) + sec.bytes;
    }
    // In memory the graph also keeps each node's offset into the upper-level pool (4 B/node).
    const graphBytes = parts['graph'] !== undefined ? parts['graph'] + 4 * (n ?? 0) : 0;
    const storeBytes = parts['store'] ?? 0;
    const rerankBytes = parts['rerank'] ?? 0;
    const perVector = (b: number) => (n! > 0 ? b / n! : 0);
    // PQ: the codes cost m bytes per vector; the codebooks are a fixed cost, shown apart.
    const sectionBytes = (name: string) => sections.find((sec) => sec.name === name)?.bytes ?? 0;
    const quantizer = storeKind === 'pq' ? pqParams(store, dim!, sectionBytes('store.codes'), sectionBytes('store.codebooks'), n!) : null;

    const out = io.stdout;
    const row = (label: string, value: string) => println(out, `${label.padEnd(16)}${value}`);
    row('file', `${path} (${formatBytes(fileBytes)}, ${fileBytes} bytes, format version ${version})`);
    row('index type', indexType);
    row('metric', metric);
    const storeExtra = Object.entries(typeof store === 'object' && store !== null ? store : {})
      .filter(([key]) => !['kind', 'size', 'dim'].includes(key))
      .map(([key, v]) => `${key}=${JSON.stringify(v)}`);
    row('store kind', storeKind + (storeExtra.length > 0 ? ` (${storeExtra.join(', ')})` : ''));
    const rerankKind = stringField(header['rerank'], 'kind');
    if (quantizer) {
      row(
        'quantizer',
        `pq: m=${quantizer.m}, ksub=${quantizer.ksub}, dsub=${quantizer.dsub} (codes ${quantizer.codeBytesPerVector} B/vector, codebooks ${formatBytes(quantizer.codebookBytes)})`,
      );
    }
    const rabitq =
      storeKind === 'rabitq'
        ? {
            bits: numberField(store, 'bits'),
            codeBytesPerVector: perVector(sectionBytes('store.codes')),
            factorBytesPerVector: perVector(sectionBytes('store.factors')),
          }
        : null;
    if (rabitq)
      row(
        'quantizer',
        `rabitq: ${rabitq.bits ?? '?'} bit(s) per rotated component (codes ${rabitq.codeBytesPerVector.toFixed(1)} B/vector + factors ${rabitq.factorBytesPerVector.toFixed(1)} B/vector)`,
      );
    if (rerankKind !== null)
      row(
        're-rank store',
        `${rerankKind} (${rerankKind === 'f16' || rerankKind === 'sq8' ? `${rerankKind} codes of the plain vectors` : 'plain vectors'} for --rerank, ${perVector(rerankBytes).toFixed(1)} B/vector)`,
      );
    else if (quantizer) row('re-rank store', 'none (built with --keep-plain false)');
    row('items (n)', String(n));
    row('dimension', String(dim));
    const graphJson: Record<string, number | null> | null =
      indexType === 'hnsw'
        ? {
            m: numberField(graph, 'm'),
            m0: numberField(graph, 'm0'),
            efConstruction: numberField(graph, 'efConstruction'),
            seed: numberField(graph, 'seed'),
            maxLevel: numberField(graph, 'maxLevel'),
            entryPoint: numberField(graph, 'entryPoint'),
          }
        : null;
    if (graphJson)
      row(
        'graph',
        Object.entries(graphJson)
          .map(([key, v]) => `${key}=${v ?? '?'}`)
          .join(' '),
      );
    // The locality layout stores its item order (format 3); older files are in insertion order.
    const items = header['items'];
    const layout =
      indexType !== 'hnsw'
        ? null
        : typeof items === 'object' && items !== null && (items as Record<string, unknown>)['order'] === true
          ? 'locality'
          : 'insertion';
    if (layout)
      row('layout', layout === 'locality' ? 'locality (items in breadth-first graph order; ids unchanged)' : 'insertion (slot = id)');
    println(out, 'sections');
    const nameWidth = Math.max(...sections.map((s) => s.name.length), 4);
    for (const s of sections) {
      println(
        out,
        `  ${s.name.padEnd(nameWidth)}  ${s.dtype.padEnd(3)} x ${String(s.length).padStart(10)}  ${String(s.bytes).padStart(12)} bytes  (${formatBytes(s.bytes)})`,
      );
    }
    const perPart = Object.entries({ graph: graphBytes, ...parts }).map(([part, b]) =>
      part === 'store' && quantizer
        ? `store ${perVector(quantizer.codeBytes).toFixed(1)} (PQ codes) + codebooks ${formatBytes(quantizer.codebookBytes)} in all (${perVector(quantizer.codebookBytes).toFixed(1)})`
        : `${part} ${perVector(b).toFixed(1)}`,
    );
    row('bytes/vector', `${perPart.join(', ')}, whole file ${perVector(fileBytes).toFixed(1)}`);
    row('check', verified ? 'ok (checksum, sections and graph links verified)' : 'skipped (--header-only)');

    println(
      out,
      JSON.stringify({
        file: path,
        fileBytes: fileBytes,
        formatVersion: version,
        index: indexType,
        metric,
        store: storeKind,
        n,
        dim,
        graph: graphJson,
        layout,
        sections,
        graphBytes,
        storeBytes,
        graphBytesPerVector: round(perVector(graphBytes), 6),
        storeBytesPerVector: round(perVector(storeBytes), 6),
        parts,
        rerank: rerankKind,
        verified,
        rerankBytes,
        rerankBytesPerVector: round(perVector(rerankBytes), 6),
        quantizer: quantizer
          ? { kind: 'pq', ...quantizer }
          : rabitq
            ? { kind: 'rabitq', ...rabitq }
            : { kind: storeKind === 'f16' || storeKind === 'sq8' ? storeKind : 'plain' },
        bytesPerVector: {
          graph: round(perVector(graphBytes), 6),
          store: round(perVector(storeBytes), 6),
          ...(quantizer
            ? { codes: round(perVector(quantizer.codeBytes), 6), codebooks: round(perVector(quantizer.codebookBytes), 6) }
            : {}),
          rerank: round(perVector(rerankBytes), 6),
          file: round(perVector(fileBytes), 6),
        },
      }),
    );
    return 0;
  },
};

/** PQ parameters from the (untrusted) store header, with the bytes of codes and codebooks. */
function pqParams(store: unknown, dim: number, codeBytes: number, codebookBytes: number, n: number) {
  const m = numberField(store, 'm');
  const ksub = numberField(store, 'ksub');
  return {
    m,
    ksub,
    dsub: m ? dim / m : null,
    codeBytes,
    codeBytesPerVector: n > 0 ? codeBytes / n : 0,
    codebookBytes,
  };
}
