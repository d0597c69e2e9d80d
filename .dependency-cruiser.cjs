/**
 * The import rules of src/ (run by `npm run lint`, so by CI): no import circles, and each layer
 * imports only the layers below it.
 *
 *   cli                       the command line
 *   node                      Node-only adapters (files, disk stores, MNIST)
 *   indexes, parallel/worker  indexes and their search, build and worker code; the worker entry
 *   quant                     store kinds, one folder each, and their registry
 *   io, gpu                   kind-agnostic file formats and WebGPU infrastructure
 *   data, eval, parallel      datasets, recall, the worker pool
 *   util, types, errors       the ground floor
 *
 * The barrel src/index.ts is the browser-safe main entry: it may not reach node/ or cli/.
 */
const layers = [
  ['cli', '^src/cli/'],
  ['node', '^src/node/'],
  ['indexes', '^src/(indexes/|parallel/worker\\.ts$)'],
  ['quant', '^src/quant/'],
  ['io-gpu', '^src/(io|gpu)/'],
  ['data', '^src/(data|eval)/|^src/parallel/(pool|platform)\\.ts$'],
  ['base', '^src/(util/|types\\.ts$|errors\\.ts$)'],
];

const layerRules = layers.slice(1).map(([name, path], i) => ({
  name: `layer-${name}`,
  comment: `${name} may import only the layers below it`,
  severity: 'error',
  from: { path },
  to: { path: layers.slice(0, i + 1).map(([, p]) => `(${p})`).join('|') },
}));

module.exports = {
  forbidden: [
    { name: 'no-circular', comment: 'no import circles in src/', severity: 'error', from: { path: '^src/' }, to: { circular: true } },
    ...layerRules,
    {
      name: 'io-gpu-apart',
      comment: 'file formats and WebGPU infrastructure do not depend on each other',
      severity: 'error',
      from: { path: '^src/io/' },
      to: { path: '^src/gpu/' },
    },
    {
      name: 'browser-safe-entry',
      comment: 'the main entry bundles for browsers: no node/ or cli/',
      severity: 'error',
      from: { path: '^src/index\\.ts$' },
      to: { path: '^src/(node|cli)/' },
    },
    {
      name: 'not-to-unresolvable',
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
  },
};
