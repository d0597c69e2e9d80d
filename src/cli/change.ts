import { readFile } from 'node:fs/promises';
import { fail } from '../errors.js';
import { HnswIndex } from '../indexes/hnsw/hnsw-index.js';
import type { ItemKey } from '../indexes/items/item-keys.js';
import { DATA_FORMATS } from '../io/formats.js';
import { readDatasetFile, saveIndexFile } from '../node/index.js';
import { loadIndexFile } from '../node/index-files.js';
import { aboutFile, bool, type CliIo, type Command, formatSeconds, num, println, round, secondsSince, str, writingFile } from './args.js';
import { readKeysFile, readLabelsFile } from './item-files.js';
import { parseKeysText } from './item-text.js';

/**
 * `webannolo add` and `remove`: change a saved HNSW index in place. Each loads the file,
 * changes the index in memory and writes it back atomically (temp file + rename): on any
 * error (bad key, wrong dimension, a label file with the wrong line count) the file is left
 * exactly as it was.
 */

async function loadHnsw(path: string): Promise<HnswIndex> {
  const index = await aboutFile(path, () => loadIndexFile(path));
  if (!(index instanceof HnswIndex)) fail('INVALID_ARGUMENT', `${path} is a flat index: add and remove need an hnsw index`);
  return index;
}

async function save(index: HnswIndex, path: string, io: CliIo, json: Record<string, unknown>, start: number): Promise<number> {
  await writingFile(path, () => saveIndexFile(index, path));
  const seconds = secondsSince(start);
  println(
    io.stdout,
    `wrote ${path}: ${index.size} items (${index.removed.count} removed slots free for reuse) in ${formatSeconds(seconds)}`,
  );
  println(io.stdout, JSON.stringify({ ...json, items: index.size, capacity: index.capacity, seconds: round(seconds), index: path }));
  return 0;
}

export const addCommand: Command = {
  name: 'add',
  summary: 'add vectors (with keys and labels) to a saved hnsw index, in place',
  synopsis: '--index INDEX --data FILE [--keys FILE] [--labels FILE] [--upsert] [--format F] [--threads N]',
  flags: [
    { name: 'index', type: 'string', placeholder: 'INDEX', required: true, help: 'hnsw index file to change (rewritten atomically)' },
    { name: 'data', type: 'string', placeholder: 'FILE', required: true, help: 'vectors to add (same formats as build)' },
    { name: 'keys', type: 'string', placeholder: 'FILE', help: 'a key per new vector, one per line (required when the index has keys)' },
    { name: 'labels', type: 'string', placeholder: 'FILE', help: 'labels per new vector, one line each, separated by commas' },
    { name: 'upsert', type: 'boolean', help: 'replace items whose key is already in the index (default: that is an error)' },
    {
      name: 'threads',
      type: 'int',
      min: 1,
      max: 1024,
      placeholder: 'N',
      help: 'worker threads inserting the new vectors (default: every core)',
    },
    { name: 'format', type: 'enum', values: DATA_FORMATS, placeholder: 'FORMAT', help: 'dataset format, overriding the extension' },
  ],
  notes:
    'Removed items\' slots are reused first. The last line of stdout is one JSON object: {"added","items","capacity","seconds","index"}.',
  async run(args, io) {
    const start = performance.now();
    const path = str(args, 'index');
    const index = await loadHnsw(path);
    const dataPath = str(args, 'data');
    const data = await aboutFile(dataPath, () => readDatasetFile(dataPath, { format: str(args, 'format', true) }));
    const keysPath = str(args, 'keys', true);
    const labelsPath = str(args, 'labels', true);
    let keys = keysPath === undefined ? undefined : await readKeysFile(keysPath, data.size);
    if (keys && index.keys?.kind === 'string') keys = keys.map(String);
    const labels = labelsPath === undefined ? undefined : await readLabelsFile(labelsPath, data.size);
    const added = await aboutFile(dataPath, () =>
      index.addAsync(data, keys, { labels, upsert: bool(args, 'upsert'), threads: num(args, 'threads', true) }),
    );
    println(io.stdout, `added ${added.length} vectors from ${dataPath}`);
    return save(index, path, io, { added: added.length }, start);
  },
};

export const removeCommand: Command = {
  name: 'remove',
  summary: 'remove items by key (by id without keys) from a saved hnsw index, in place',
  synopsis: '--index INDEX --keys FILE',
  flags: [
    { name: 'index', type: 'string', placeholder: 'INDEX', required: true, help: 'hnsw index file to change (rewritten atomically)' },
    {
      name: 'keys',
      type: 'string',
      placeholder: 'FILE',
      required: true,
      help: 'keys to remove, one per line (ids for an index without keys)',
    },
    {
      name: 'compact',
      type: 'boolean',
      help: 'then rebuild the graph over the live items and drop the removed slots (ids change on an index without keys)',
    },
    {
      name: 'threads',
      type: 'int',
      min: 1,
      max: 1024,
      placeholder: 'N',
      help: 'with --compact: worker threads for the rebuild (default: every core)',
    },
  ],
  notes:
    'An unknown key fails the whole call and leaves the file unchanged. The last line of stdout is one JSON object: {"removed","items","capacity","seconds","index"}.',
  async run(args, io) {
    const start = performance.now();
    const path = str(args, 'index');
    const index = await loadHnsw(path);
    const keysPath = str(args, 'keys');
    const text = await aboutFile(keysPath, () => readFile(keysPath, 'utf8'));
    let keys: ItemKey[] = await aboutFile(keysPath, () => parseKeysText(text, null, keysPath));
    // An index with string keys takes every line as text, numbers included.
    if (index.keys?.kind === 'string') keys = keys.map(String);
    await aboutFile(keysPath, () => index.remove(keys));
    println(io.stdout, `removed ${keys.length} items listed in ${keysPath}`);
    if (bool(args, 'compact')) await index.compact({ threads: num(args, 'threads', true) });
    return save(index, path, io, { removed: new Set(keys).size }, start);
  },
};
