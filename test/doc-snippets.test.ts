import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The documentation cannot drift from the code it shows: a block marked
 * `<!-- example: examples/NAME -->` in README.md or docs/*.md must be that file, byte for byte
 * (and test/examples.test.ts runs the file); every other code block says why it cannot run
 * (`<!-- not-run: reason -->`, kept to a handful); every example is shown somewhere; every
 * relative link leads to a file; and the text speaks of the library, not of how it was made.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Shown {
  doc: string;
  line: number;
  example: string;
  code: string | null;
}

/** The marked blocks of one Markdown file: the example each names and the fenced code after it. */
function markedBlocks(doc: string): Shown[] {
  const lines = read(doc).split('\n');
  const shown: Shown[] = [];
  lines.forEach((text, i) => {
    const marker = text.match(/^<!-- example: (\S+) -->$/);
    if (!marker) return;
    const open = lines[i + 1]?.match(/^(`{3,})\w*$/);
    if (!open) {
      shown.push({ doc, line: i + 1, example: marker[1]!, code: null });
      return;
    }
    const close = lines.findIndex((l, j) => j > i + 1 && l === open[1]);
    shown.push({ doc, line: i + 1, example: marker[1]!, code: close < 0 ? null : lines.slice(i + 2, close).join('\n') });
  });
  return shown;
}

function exampleFiles(dir = join(ROOT, 'examples')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? exampleFiles(join(dir, e.name)) : [relative(ROOT, join(dir, e.name))],
  );
}

describe('examples shown in the documentation', () => {
  const blocks = DOCS.flatMap(markedBlocks);

  it('finds marked blocks', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(exampleFiles().length);
  });

  for (const block of blocks) {
    it(`${block.doc}:${block.line} is ${block.example} as it is`, () => {
      expect(existsSync(join(ROOT, block.example)), `${block.example} does not exist`).toBe(true);
      expect(block.code, 'the marker must be followed by a fenced code block').not.toBeNull();
      expect(block.code).toBe(read(block.example).replace(/\n$/, ''));
    });
  }

  it('shows (or links) every example in a guide', () => {
    const shown = new Set(blocks.map((b) => b.example));
    for (const doc of DOCS)
      for (const [, target] of read(doc).matchAll(/\]\(([^)\s]+)\)/g)) shown.add(relative(ROOT, join(ROOT, dirname(doc), target!)));
    expect(exampleFiles().filter((f) => !shown.has(f))).toEqual([]);
  });

  it('keeps the quick start to ten lines of code', () => {
    const code = read('examples/quickstart.mjs')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.trim().startsWith('//'));
    expect(code.length).toBeLessThanOrEqual(10);
  });
});

/** A fenced code block: where it opens and the line just before it. */
interface Fenced {
  line: number;
  before: string;
  closed: boolean;
}

function fencedBlocks(doc: string): Fenced[] {
  const lines = read(doc).split('\n');
  const blocks: Fenced[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = lines[i]!.match(/^\s*(`{3,}|~{3,})/);
    if (!open) continue;
    const close = lines.findIndex((l, j) => j > i && l.trim() === open[1]);
    blocks.push({ line: i + 1, before: lines[i - 1] ?? '', closed: close >= 0 });
    if (close < 0) break;
    i = close;
  }
  return blocks;
}

const EXAMPLE_MARKER = /^<!-- example: \S+ -->$/;
/** A block that cannot run (a sample of output, say) says so, and why, right before it. */
const NOT_RUN_MARKER = /^<!-- not-run: (\S.{9,}) -->$/;

describe('every code block in the documentation runs', () => {
  for (const doc of DOCS) {
    it(`${doc}: each block is an example (run by test/examples.test.ts) or says why it is not run`, () => {
      const blocks = fencedBlocks(doc);
      expect(
        blocks.filter((b) => !b.closed).map((b) => `${doc}:${b.line}`),
        'a code block that is never closed',
      ).toEqual([]);
      const unrun = blocks.filter((b) => !EXAMPLE_MARKER.test(b.before) && !NOT_RUN_MARKER.test(b.before));
      expect(
        unrun.map((b) => `${doc}:${b.line}`),
        'precede each block with <!-- example: examples/NAME --> or <!-- not-run: reason -->',
      ).toEqual([]);
    });
  }

  it('leaves at most a handful of blocks unrun', () => {
    const notRun = DOCS.flatMap((doc) =>
      fencedBlocks(doc)
        .filter((b) => NOT_RUN_MARKER.test(b.before))
        .map((b) => `${doc}:${b.line}`),
    );
    expect(notRun.length, notRun.join('\n')).toBeLessThanOrEqual(5);
  });
});

describe('links in the documentation', () => {
  for (const doc of DOCS) {
    it(`every relative link of ${doc} leads to a file in the repository`, () => {
      const text = read(doc).replace(/```[\s\S]*?```/g, '');
      const broken: string[] = [];
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^(https?:|mailto:|#)/.test(target!)) continue;
        const path = target!.split('#')[0]!;
        const resolved = join(ROOT, dirname(doc), path);
        if (!existsSync(resolved) || !resolved.startsWith(ROOT)) broken.push(target!);
      }
      expect(broken).toEqual([]);
    });
  }
});

/** Words about how the project was made, not about the library. */
const OFF_TOPIC = [
  /\bsessions?\b/i,
  /\bthis machine\b/i,
  /\bthis project'?s?\b/i,
  /\bbench machine\b/i,
  /\bissue #?\d+/i,
  /(^|[\s(])#\d{2,}\b/,
];

describe('the documentation speaks of the library', () => {
  for (const doc of DOCS) {
    it(doc, () => {
      const lines = read(doc).split('\n');
      const hits = lines.flatMap((l, i) => (OFF_TOPIC.some((re) => re.test(l)) ? [`${doc}:${i + 1}: ${l.trim()}`] : []));
      expect(hits).toEqual([]);
    });
  }

  it('so does `webannolo help`', () => {
    const bin = join(ROOT, 'bin', 'webannolo.js');
    const commands = ['build', 'search', 'serve', 'add', 'remove', 'eval', 'info', 'demo-mnist', 'bench'];
    const text = [execFileSync(process.execPath, [bin, 'help'], { encoding: 'utf8' })]
      .concat(commands.map((c) => execFileSync(process.execPath, [bin, 'help', c], { encoding: 'utf8' })))
      .join('\n');
    const hits = text.split('\n').filter((l) => OFF_TOPIC.some((re) => re.test(l)));
    expect(hits).toEqual([]);
  });
});
