#!/usr/bin/env node
// The `webannolo` command: a shim over the compiled CLI in dist/ (see src/cli/main.ts).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('webannolo: error: the CLI is not built: run `npm run build` in the webannolo directory first\n');
  process.exitCode = 1;
} else {
  // `webannolo ... | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (err) => {
    if (err && err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  const { main } = await import(entry.href);
  process.exitCode = await main(process.argv.slice(2));
}
