#!/usr/bin/env node
// File-size rule of `npm run lint` (so of CI): no source file in src/ over 350 lines. A file that
// grows past it holds more than one concept; split it by concept rather than raise the limit.
// Usage: node scripts/check-file-sizes.mjs [--max LINES] [DIR...]   (defaults: 350, src)
// Prints each file over the limit with its line count and exits 1; prints nothing and exits 0 otherwise.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs)$/;

const { values, positionals } = parseArgs({ options: { max: { type: 'string', default: '350' } }, allowPositionals: true });
const max = Number(values.max);
if (!Number.isInteger(max) || max < 1) {
  process.stderr.write(`check-file-sizes: --max ${values.max} is not a positive whole number\n`);
  process.exit(2);
}
const dirs = positionals.length > 0 ? positionals : ['src'];

/** Lines as `wc -l` counts them, plus a last line that lacks its newline. */
function lineCount(text) {
  if (text.length === 0) return 0;
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return text.endsWith('\n') ? n : n + 1;
}

const over = [];
for (const dir of dirs) {
  for (const entry of readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !SOURCE.test(entry.name)) continue;
    const path = join(entry.parentPath ?? entry.path, entry.name); // parentPath from Node 20.12
    const lines = lineCount(readFileSync(path, 'utf8'));
    if (lines > max) over.push({ file: relative(ROOT, path), lines });
  }
}
if (over.length > 0) {
  over.sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file));
  process.stderr.write(`${over.length} file(s) over ${max} lines; split each by concept:\n`);
  for (const { file, lines } of over) process.stderr.write(`  ${file}: ${lines} lines\n`);
  process.exit(1);
}
