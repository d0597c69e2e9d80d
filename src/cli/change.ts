import { readFile } from 'node:fs/promises';
import { fail, WebannoloError } from '../errors.js';
import { HnswIndex } from '../indexes/hnsw/hnsw-index.js';
import { serializeIndex } from '../indexes/index-codec.js';
import type { ItemKey } from '../indexes/items/item-keys.js';
import { DATA_FORMATS } from '../io/formats.js';
import { FileLock } from '../node/file-lock.js';
import { fileVersion, readBytes, readDatasetFile, writeFileReplacing } from '../node/files.js';
import { loadIndexFile } from '../node/index-files.js';
import {
  aboutFile,
  bool,
  type CliIo,
  type Command,
  type FlagSpec,
  formatSeconds,
  num,
  type ParsedArgs,
  println,
  round,
  secondsSince,
  str,
  writingFile,
} from './args.js';
import { readKeysFile, readLabelsFile } from './item-files.js';
import { parseKeysText } from './item-text.js';

/**
 * `webannolo add` and `remove`: change a saved HNSW index in place. Each locks the file
 * (INDEX.lock, see FileLock), loads it, changes the index in memory and writes it back
 * atomically (temp file + rename), then unlocks it: on any error (bad key, wrong dimension,
 * a label file with the wrong line count, another add/remove holding the lock, the file
 * replaced by another program meanwhile) the file is left exactly as it was.
 */

async function loadHnsw(path: string): Promise<HnswIndex> {
  const index = await aboutFile(path, () => loadIndexFile(path));
  if (!(index instanceof HnswIndex)) fail('INVALID_ARGUMENT', `${path} is a flat index: add and remove need an hnsw index`);
  return index;
}

/** The --wait flag of add and remove. */
const WAIT_FLAG: FlagSpec = {
  name: 'wait',
  type: 'number',
  min: 0,
  max: 86_400,
  placeholder: 'SECONDS',
  help: 'while another add/remove is changing the index, wait up to this long for it (default 0: fail at once)',
};

const LOCK_NOTE =
  'While it runs, INDEX.lock (holding its pid) keeps other add/remove runs off the file: they fail at once naming it, or wait with --wait. A lock or temporary file left by a killed run is taken over or removed by the next one. If another program replaces the file meanwhile, nothing is written.';

/**
 * Locks the index file, loads it, applies `change` and writes the result back if the file
 * is still the one loaded; returns the exit code. `change` returns the JSON line's fields.
 */
async function changeIndexFile(
  args: ParsedArgs,
  io: CliIo,
  command: string,
  change: (index: HnswIndex) => Promise<Record<string, unknown>>,
): Promise<number> {
  const start = performance.now();
  const path = str(args, 'index');
  // No lock file beside an index that is not there (a typo): say so as reading it would.
  if ((await fileVersion(path)) === null) await readBytes(path);
  const lock = await writingFile(path, () =>
    FileLock.acquire(path, {
      command: `webannolo ${command}`,
      waitMs: Math.round((num(args, 'wait', true) ?? 0) * 1000),
      waitHint: args.given.has('wait')
        ? 'give a longer --wait, or try again when it has finished'
        : 'wait for it to finish, or give --wait SECONDS',
    }),
  );
  try {
    // Before reading: a file replaced while it is read is caught too.
    const version = await fileVersion(path);
    const index = await loadHnsw(path);
    const json = await change(index);
    await writingFile(path, () => writeFileReplacing(path, serializeIndex(index), version));
    const seconds = secondsSince(start);
    println(
      io.stdout,
      `wrote ${path}: ${index.size} items (${index.removed.count} removed slots free for reuse) in ${formatSeconds(seconds)}`,
    );
    println(io.stdout, JSON.stringify({ ...json, items: index.size, capacity: index.capacity, seconds: round(seconds), index: path }));
    return 0;
  } finally {
    await lock.release();
  }
}

export const addCommand: Command = {
  name: 'add',
  summary: 'add vectors (with keys and labels) to a saved hnsw index, in place',
  synopsis: '--index INDEX --data FILE [--keys FILE] [--labels FILE] [--upsert] [--format F] [--threads N] [--wait SECONDS]',
  flags: [
    {
      name: 'index',
      type: 'string',
      placeholder: 'INDEX',
      required: true,
      help: 'hnsw index file to change (locked, then rewritten atomically)',
    },
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
    WAIT_FLAG,
  ],
  notes: `Removed items' slots are reused first. ${LOCK_NOTE} The last line of stdout is one JSON object: {"added","items","capacity","seconds","index"}.`,
  async run(args, io) {
    return changeIndexFile(args, io, 'add', async (index) => {
      const dataPath = str(args, 'data');
      const data = await aboutFile(dataPath, () => readDatasetFile(dataPath, { format: str(args, 'format', true) }));
      const keysPath = str(args, 'keys', true);
      const labelsPath = str(args, 'labels', true);
      let keys = keysPath === undefined ? undefined : await readKeysFile(keysPath, data.size);
      if (keys && index.keys?.kind === 'string') keys = keys.map(String);
      const labels = labelsPath === undefined ? undefined : await readLabelsFile(labelsPath, data.size);
      const added = await aboutFile(dataPath, () =>
        index.addAsync(data, keys, { labels, upsert: bool(args, 'upsert'), threads: num(args, 'threads', true) }).catch((err: unknown) => {
          // The library's advice names its own API; here the flag is what to give.
          if (err instanceof WebannoloError)
            err.message = err.message.replace(
              /remove it first, use update\(\), or add with \{ upsert: true \}/,
              'remove it first (webannolo remove), or give --upsert to replace it',
            );
          throw err;
        }),
      );
      println(io.stdout, `added ${added.length} vectors from ${dataPath}`);
      return { added: added.length };
    });
  },
};

export const removeCommand: Command = {
  name: 'remove',
  summary: 'remove items by key (by id without keys) from a saved hnsw index, in place',
  synopsis: '--index INDEX --keys FILE [--compact] [--threads N] [--wait SECONDS]',
  flags: [
    {
      name: 'index',
      type: 'string',
      placeholder: 'INDEX',
      required: true,
      help: 'hnsw index file to change (locked, then rewritten atomically)',
    },
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
    WAIT_FLAG,
  ],
  notes: `An unknown key fails the whole call and leaves the file unchanged. ${LOCK_NOTE} The last line of stdout is one JSON object: {"removed","items","capacity","seconds","index"}.`,
  async run(args, io) {
    return changeIndexFile(args, io, 'remove', async (index) => {
      const keysPath = str(args, 'keys');
      const text = await aboutFile(keysPath, () => readFile(keysPath, 'utf8'));
      let keys: ItemKey[] = await aboutFile(keysPath, () => parseKeysText(text, null, keysPath));
      // An index with string keys takes every line as text, numbers included.
      if (index.keys?.kind === 'string') keys = keys.map(String);
      await aboutFile(keysPath, () => index.remove(keys));
      println(io.stdout, `removed ${keys.length} items listed in ${keysPath}`);
      if (bool(args, 'compact')) await index.compact({ threads: num(args, 'threads', true) });
      return { removed: new Set(keys).size };
    });
  },
};
