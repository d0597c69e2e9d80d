/**
 * The import rules of src/ (run by `npm run lint`, so by CI): no import circles, and each layer
 * imports only the layers below it.
 *
 *   cli                       the command line
 *   serve                     the query service (Node): HTTP, write-ahead log, shards on NATS
 *   node                      Node-only adapters (files, disk stores, MNIST)
 *   batching                  turning concurrent single searches into batches (browser-safe)
 *   storage                   saved indexes in the browser (OPFS, IndexedDB) and streamed reading of index files
 *   indexes, parallel/worker  indexes and their search, build and worker code; the worker entry
 *   quant                     store kinds, one folder each, and their registry
 *   io, gpu                   kind-agnostic file formats and WebGPU infrastructure
 *   data, eval, parallel      datasets, recall, the worker pool
 *   util, types, errors       the ground floor
 *
 * The barrel src/index.ts is the browser-safe main entry: it may not reach node/ or cli/.
 */
const layers = [
  ['cli', 'the command line', '^src/cli/'],
  ['serve', 'the query service', '^src/serve/'],
  ['node', 'Node-only adapters', '^src/node/'],
  ['batching', 'query batching', '^src/batching/'],
  ['storage', 'browser storage of indexes', '^src/storage/'],
  ['indexes', 'indexes and the worker entry', '^src/(indexes/|parallel/worker\\.ts$)'],
  ['quant', 'store kinds', '^src/quant/'],
  ['io-gpu', 'file formats and WebGPU infrastructure', '^src/(io|gpu)/'],
  ['data', 'datasets, recall and the worker pool', '^src/(data|eval)/|^src/parallel/(pool|pool-worker|platform|fault-tasks)\\.ts$'],
  ['base', 'util, types and errors', '^src/(util/|types\\.ts$|errors\\.ts$)'],
];
const anyOf = (paths) => paths.map((p) => `(${p})`).join('|');

// A layer's rule forbids importing any layer above it; its message says what it may import.
const layerRules = layers.slice(1).map(([name, what, path], i) => ({
  name: `layer-${name}`,
  comment: `${name} (${what}) may import only the layers below it: ${layers
    .slice(i + 2)
    .map(([below]) => below)
    .join(', ')}. Move shared code down a layer, or have the caller pass it in.`,
  severity: 'error',
  from: { path },
  to: { path: anyOf(layers.slice(0, i + 1).map(([, , p]) => p)) },
}));

module.exports = {
  forbidden: [
    { name: 'no-circular', comment: 'no import circles in src/', severity: 'error', from: { path: '^src/' }, to: { circular: true } },
    ...layerRules,
    {
      name: 'io-gpu-apart',
      comment: 'file formats (io/) and WebGPU infrastructure (gpu/) share a layer but do not depend on each other',
      severity: 'error',
      from: { path: '^src/(io|gpu)/' },
      to: { path: '^src/(io|gpu)/', pathNot: '^src/$1/' },
    },
    {
      name: 'in-a-layer',
      comment: 'every file in src/ belongs to a layer: add its path to `layers` in .dependency-cruiser.cjs (the barrel src/index.ts excepted)',
      severity: 'error',
      from: { path: '^src/', pathNot: anyOf([...layers.map(([, , p]) => p), '^src/index\\.ts$']) },
      to: { path: '^src/' },
    },
    {
      name: 'browser-safe-entry',
      comment: 'the main entry bundles for browsers: no node/, serve/ or cli/',
      severity: 'error',
      from: { path: '^src/index\\.ts$' },
      to: { path: '^src/(node|serve|cli)/' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'every import resolves to a file (a typo, or a file moved without its importers following)',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    parser: 'swc',
    tsConfig: { fileName: 'tsconfig.json' },
    // Packages resolve through their `exports` first, as Node does (some, like
    // @nats-io/jetstream, name a `types` file that does not exist).
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
