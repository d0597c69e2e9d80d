import { stat, unlink } from 'node:fs/promises';
import { fail } from '../../errors.js';
import type { HnswIndex } from '../../indexes/hnsw/hnsw-index.js';
import type { LoggedChange } from './log-record.js';
import { listSegments, SEGMENT_HEADER_BYTES, segmentPath } from './log-segments.js';

/**
 * What an index file's annotations say about the log its changes come from: `log` for the
 * write-ahead log beside it (its id, and the last change the file holds), `externalLog` for
 * an ordered log kept elsewhere (a replica's NATS JetStream stream: its name and the last
 * sequence number applied). Other annotations (say a shard's number) are kept as they are.
 */
export interface FileAnnotations {
  readonly log: { readonly id: string; readonly seq: number } | null;
  readonly externalLog: { readonly name: string; readonly seq: number } | null;
  /** Every other annotation, written back unchanged by snapshots. */
  readonly others: Record<string, unknown>;
}

export function readAnnotations(annotations: unknown, path: string): FileAnnotations {
  const all = annotations !== null && typeof annotations === 'object' ? { ...(annotations as Record<string, unknown>) } : {};
  const { log, externalLog, ...others } = all;
  let local: FileAnnotations['log'] = null;
  let external: FileAnnotations['externalLog'] = null;
  if (log !== undefined) {
    const { id, seq } = (log ?? {}) as { id?: unknown; seq?: unknown };
    if (typeof id !== 'string' || !/^[0-9a-f]{16}$/.test(id) || !isSeq(seq))
      fail('CORRUPT_FILE', `${path} has a malformed log annotation ${JSON.stringify(log)}`);
    local = { id, seq };
  }
  if (externalLog !== undefined) {
    const { name, seq } = (externalLog ?? {}) as { name?: unknown; seq?: unknown };
    if (typeof name !== 'string' || name.length === 0 || !isSeq(seq))
      fail('CORRUPT_FILE', `${path} has a malformed externalLog annotation ${JSON.stringify(externalLog)}`);
    external = { name, seq };
  }
  return { log: local, externalLog: external, others };
}

const isSeq = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * Before an index file has a log, the only segments beside it can be those of a first open
 * that crashed before its first snapshot: they hold no change (none is logged before that
 * snapshot) and go. A segment holding records belongs to some other file.
 */
export async function removeUnclaimedSegments(path: string): Promise<void> {
  for (const n of await listSegments(path)) {
    const file = segmentPath(path, n);
    if ((await stat(file)).size > SEGMENT_HEADER_BYTES)
      fail(
        'CORRUPT_FILE',
        `${file} holds changes, but ${path} names no log: the index file was replaced while its log stayed; move the old segments away`,
      );
    await unlink(file);
  }
}

/** Applies a logged change to the index (all or nothing, as the index's add and remove are). */
export function applyLogged(index: HnswIndex, change: LoggedChange): void {
  if (change.op === 'remove') index.remove(change.keys);
  else
    index.add(
      change.vectors,
      change.keys,
      change.labels === undefined ? { upsert: change.upsert } : { upsert: change.upsert, labels: change.labels },
    );
}
