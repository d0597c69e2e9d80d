import { createReadStream, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

/**
 * The browser demo (demo/). `npm run demo` serves it with Vite; `npm run build:demo` writes a
 * static site to demo-dist/. The MNIST idx files and the WGSL shaders live outside demo/, so
 * the dev server may read the whole repository.
 */
const repoRoot = fileURLToPath(new URL('.', import.meta.url));

/**
 * The dev server would take the extensionless MNIST files (`train-images-idx3-ubyte`) for
 * JavaScript and try to transform them: serve them as bytes instead, with Range support so the
 * demo can fetch just the images it needs. (`vite build` copies them as plain assets.)
 */
function rawIdxFiles(): Plugin {
  return {
    name: 'webannolo-raw-idx',
    apply: 'serve',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const [path = '', query] = (req.url ?? '').split('?');
        if (!path.endsWith('-ubyte') || query !== undefined) return next();
        const file = resolve(path.startsWith('/@fs/') ? decodeURIComponent(path.slice(4)) : join(repoRoot, decodeURIComponent(path)));
        let size: number;
        try {
          if (!file.startsWith(repoRoot.endsWith(sep) ? repoRoot : repoRoot + sep)) return next();
          size = statSync(file).size;
        } catch {
          return next();
        }
        const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
        const start = range ? Number(range[1]) : 0;
        const end = range?.[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
        res.setHeader('Content-Type', 'application/octet-stream');
        res.setHeader('Accept-Ranges', 'bytes');
        res.setHeader('Content-Length', String(end - start + 1));
        if (range) {
          res.statusCode = 206;
          res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
        }
        createReadStream(file, { start, end }).pipe(res);
      });
    },
  };
}

const CROSS_ORIGIN_ISOLATED = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  root: 'demo',
  base: './',
  plugins: [rawIdxFiles()],
  build: {
    outDir: '../demo-dist',
    emptyOutDir: true,
    target: 'es2022',
    // The MNIST files are copied as they are: never inline them.
    assetsInlineLimit: 0,
    rolldownOptions: {
      output: {
        // MNIST's files have no extension: keep their names clean (no trailing dot).
        assetFileNames: (asset) => (/\.[a-z0-9]+$/i.test(asset.names[0] ?? '') ? 'assets/[name]-[hash][extname]' : 'assets/[name]-[hash]'),
      },
    },
  },
  // Cross-origin isolation (COOP + COEP) makes SharedArrayBuffer available: the library's
  // worker threads share the index instead of the page using one core.
  server: { fs: { allow: [repoRoot] }, headers: CROSS_ORIGIN_ISOLATED },
  preview: { headers: CROSS_ORIGIN_ISOLATED },
  worker: { format: 'es' },
});
