import { randomBytes } from 'node:crypto';
import { fail, WebannoloError } from '../../errors.js';
import { HnswIndex } from '../../indexes/hnsw/hnsw-index.js';
import { serializeIndex } from '../../indexes/index-codec.js';
import type { ItemKey } from '../../indexes/items/item-keys.js';
import { FileLock } from '../../node/file-lock.js';
import { writeFileAtomic } from '../../node/files.js';
import { type LoadIndexOptions, loadIndexFile, readIndexHeader } from '../../node/index-files.js';
import type { AddChange, SnapshotInfo, WriteAck } from '../backend.js';
import { applyLogged, readAnnotations, removeUnclaimedSegments } from './log-annotation.js';
import type { LoggedChange } from './log-record.js';
import { logIdText } from './log-segments.js';
import { type LogStats, WriteAheadLog } from './write-ahead-log.js';

/** Options of DurableIndex.open: how the log syncs and when snapshots are written. */
export interface DurableOptions {
  /** fsync each group of changes before acknowledging it. Default true; false trades durability across power loss (not process crashes) for speed. */
  fsync?: boolean;
  /** Take a snapshot after this many changes since the last one (0: never by count). Default 10000. */
  snapshotEveryChanges?: number;
  /** Take a snapshot when the log passes this many bytes (0: never by size). Default 256 MiB. */
  snapshotLogBytes?: number;
  /** Take a snapshot this often (milliseconds) when changes arrived since the last one (0: never by time). Default 600000 (10 minutes). */
  snapshotIntervalMs?: number;
  /** How the index file is loaded (re-ranking vectors from disk, streaming). */
  load?: LoadIndexOptions;
  /** What the lock on the index file says holds it (for the message another writer sees). Default 'webannolo serve'. */
  command?: string;
  /**
   * The changes come from an ordered log kept elsewhere under this name (a replica's NATS
   * JetStream stream), through applyReplicated: no write-ahead log beside the file; snapshots
   * record the last sequence number applied.
   */
  externalLog?: string;
}

/** Where the log stands, for metrics and /health. */
export interface DurableStats {
  /** The sequence number of the last change applied (and, once its append resolves, durable). */
  readonly seq: number;
  /** The sequence number the index file on disk holds everything up to. */
  readonly snapshotSeq: number;
  /** Changes replayed from the log when it opened. */
  readonly replayed: number;
  /** Bytes of a torn record dropped from the log's tail when it opened (a crash mid-append). */
  readonly tornBytes: number;
  /** Null when the changes come from an external log. */
  readonly log: LogStats | null;
}

/**
 * An index whose changes are kept by a write-ahead log beside its file: a change is applied
 * (all-or-nothing, so bad input changes nothing and is never logged), appended to the log and
 * acknowledged once fsynced with the changes that arrived together. On open the log is
 * replayed onto the last snapshot; a torn record at its tail (a crash mid-append, never
 * acknowledged) is dropped. A snapshot writes the index file atomically with the sequence
 * number it holds, and the log segments it covers go.
 *
 * A change is visible to searches as soon as it is applied, a moment before it is durable: a
 * crash in between loses a change nobody was told had succeeded. The process holds the index
 * file's lock while open, so the CLI's add and remove cannot change the file under it.
 *
 * Changes go by key: an index without keys is served read-only (its ids depend on which slots
 * running searches hold, so a replay could not reproduce them).
 */
export class DurableIndex {
  private sinceSnapshot = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  /** The snapshot running or queued last, and the one queued and not started yet. */
  private snapshotting: Promise<SnapshotInfo> | null = null;
  private queuedSnapshot: Promise<SnapshotInfo> | null = null;
  private closed = false;

  private constructor(
    /** The index file. */
    readonly path: string,
    /** The index in memory, every acknowledged change applied. */
    readonly index: HnswIndex,
    /** The write-ahead log; null when the changes come from an external log. */
    private readonly log: WriteAheadLog | null,
    private readonly lock: FileLock,
    /** The file's own annotation of the log: `log` with the WAL's id, or `externalLog` with its name. */
    private readonly source: { readonly key: 'log'; readonly id: string } | { readonly key: 'externalLog'; readonly name: string },
    private readonly otherAnnotations: Record<string, unknown>,
    private seqNow: number,
    private snapshotSeq: number,
    private readonly replayInfo: { replayed: number; tornBytes: number },
    private readonly options: Required<Pick<DurableOptions, 'snapshotEveryChanges' | 'snapshotLogBytes' | 'snapshotIntervalMs'>>,
  ) {}

  /**
   * Locks and loads the index file, replays its log, and readies the log for changes. An
   * index file without a log gets one: a first snapshot records the new log's id in it.
   */
  static async open(path: string, options: DurableOptions = {}): Promise<DurableIndex> {
    const settings = {
      fsync: options.fsync ?? true,
      snapshotEveryChanges: options.snapshotEveryChanges ?? 10_000,
      snapshotLogBytes: options.snapshotLogBytes ?? 256 * 1024 * 1024,
      snapshotIntervalMs: options.snapshotIntervalMs ?? 600_000,
    };
    const lock = await FileLock.acquire(path, { command: options.command ?? 'webannolo serve' });
    try {
      const annotations = readAnnotations((await readIndexHeader(path)).header['annotations'], path);
      const index = await loadIndexFile(path, options.load);
      if (!(index instanceof HnswIndex)) fail('READ_ONLY', `${path} holds a flat index: only an HNSW index with keys can take changes`);
      if (index.keys === null) fail('READ_ONLY', `${path} has no keys: changes go by key (rebuild it with --keys), or serve it read-only`);
      if (options.externalLog !== undefined) {
        const name = options.externalLog;
        const held = annotations.externalLog;
        if (held !== null && held.name !== name) fail('INVALID_ARGUMENT', `${path} holds the changes of log '${held.name}', not '${name}'`);
        if (annotations.log !== null && annotations.log.seq > 0)
          fail('INVALID_ARGUMENT', `${path} has changes in its own write-ahead log: it cannot follow an external log`);
        const seq = held?.seq ?? 0;
        const source = { key: 'externalLog' as const, name };
        const durable = new DurableIndex(
          path,
          index,
          null,
          lock,
          source,
          annotations.others,
          seq,
          seq,
          { replayed: 0, tornBytes: 0 },
          settings,
        );
        durable.startTimer();
        return durable;
      }
      const local = annotations.log;
      if (local === null) await removeUnclaimedSegments(path);
      const idBytes = local ? Buffer.from(local.id, 'hex') : randomBytes(8);
      const id = logIdText(idBytes);
      const { log, read } = await WriteAheadLog.open(path, idBytes, id, { fsync: settings.fsync });
      let seq = local?.seq ?? 0;
      let replayed = 0;
      try {
        for (const segment of read)
          for (const change of segment.changes) {
            if (change.seq <= seq) continue;
            if (change.seq !== seq + 1)
              fail('CORRUPT_FILE', `write-ahead log of ${path} jumps from change ${seq} to ${change.seq}: a segment is missing`);
            try {
              applyLogged(index, change);
            } catch (e) {
              fail(
                'CORRUPT_FILE',
                `write-ahead log of ${path}: change ${change.seq} (${change.op}) does not apply: ${(e as Error).message}`,
              );
            }
            seq = change.seq;
            replayed++;
          }
      } catch (e) {
        await log.close();
        throw e;
      }
      const tornBytes = read.reduce((sum, s) => sum + s.tornBytes, 0);
      const source = { key: 'log' as const, id };
      const info = { replayed, tornBytes };
      const durable = new DurableIndex(path, index, log, lock, source, annotations.others, seq, local?.seq ?? 0, info, settings);
      // A new log's id must be in the file before any change is logged, and a long replay is
      // worth folding into the file once.
      if (local === null || replayed > 0) await durable.snapshot();
      durable.startTimer();
      return durable;
    } catch (e) {
      await lock.release();
      throw e;
    }
  }

  /** Adds (or upserts) items; resolves once the change is durable. Bad input rejects and changes nothing. */
  add(change: AddChange): Promise<WriteAck> {
    return this.commit((seq) => {
      const keys = [...change.keys];
      const vectors = [...change.vectors];
      const options =
        change.labels === undefined ? { upsert: change.upsert === true } : { upsert: change.upsert === true, labels: change.labels };
      this.index.add(vectors, keys, options);
      const logged: LoggedChange = { seq, op: 'add', keys, vectors, upsert: options.upsert };
      return { logged: change.labels === undefined ? logged : { ...logged, labels: change.labels }, items: keys.length };
    });
  }

  /** Removes items by key; resolves once durable. An unknown key rejects and removes nothing. */
  remove(keys: readonly ItemKey[]): Promise<WriteAck> {
    return this.commit((seq) => {
      const copy = [...keys];
      this.index.remove(copy);
      return { logged: { seq, op: 'remove', keys: copy }, items: copy.length };
    });
  }

  /**
   * Applies a change of the external log this index follows (see DurableOptions.externalLog),
   * in the log's order. A sequence number at or below the last one applied is a redelivery
   * and is skipped. A change the index refuses (a duplicate key, an unknown key to remove) is
   * refused the same way by every replica, which all move past it: the result says so (`applied`,
   * or the refusal as `error`).
   */
  applyReplicated(change: LoggedChange): { applied: boolean; error: WebannoloError | null } {
    if (this.source.key !== 'externalLog') fail('INVALID_ARGUMENT', 'applyReplicated is for an index that follows an external log');
    if (this.closed) throw new WebannoloError('CLOSED', 'the index is closed');
    if (change.seq <= this.seqNow) return { applied: false, error: null };
    let error: WebannoloError | null = null;
    try {
      applyLogged(this.index, change);
    } catch (e) {
      if (!(e instanceof WebannoloError)) throw e;
      error = e;
    }
    this.seqNow = change.seq;
    this.sinceSnapshot++;
    this.maybeSnapshot();
    return { applied: error === null, error };
  }

  /**
   * Writes the index file atomically with everything applied so far and drops the log
   * segments it covers. Snapshots run one at a time: a call while one runs waits for it and
   * then takes its own (calls made meanwhile share that one).
   */
  snapshot(): Promise<SnapshotInfo> {
    if (this.closed) return Promise.reject(new WebannoloError('CLOSED', 'the index is closed'));
    if (this.queuedSnapshot) return this.queuedSnapshot;
    const previous = this.snapshotting?.catch(() => undefined) ?? Promise.resolve();
    const next = previous.then(() => {
      if (this.queuedSnapshot === next) this.queuedSnapshot = null;
      return this.writeSnapshot();
    });
    this.queuedSnapshot = next;
    this.snapshotting = next;
    void next.then(
      () => this.settled(next),
      () => this.settled(next),
    );
    return next;
  }

  private settled(snapshot: Promise<SnapshotInfo>): void {
    if (this.snapshotting === snapshot) this.snapshotting = null;
  }

  /** Figures for metrics: the last sequence number, the snapshot's, what opening replayed or dropped, the log's. */
  get stats(): DurableStats {
    return { seq: this.seqNow, snapshotSeq: this.snapshotSeq, ...this.replayInfo, log: this.log?.stats ?? null };
  }

  /** Why changes are refused (the log failed), or null. */
  get failure(): string | null {
    return this.log?.failure ? `the write-ahead log failed: ${this.log.failure.message}` : null;
  }

  /** Waits for the changes acknowledged or in flight to be durable, closes the log and releases the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.snapshotting?.catch(() => undefined);
    await this.log?.flush().catch(() => undefined);
    await this.log?.close();
    await this.lock.release();
  }

  private async commit(apply: (seq: number) => { logged: LoggedChange; items: number }): Promise<WriteAck> {
    if (this.closed) throw new WebannoloError('CLOSED', 'the index is closed');
    if (this.log === null) fail('READ_ONLY', 'this index follows an external log: its changes come through that log');
    const failure = this.failure;
    if (failure) throw new WebannoloError('IO_FAILURE', `${failure}; restart the service to replay what is durable`);
    const seq = this.seqNow + 1;
    // Applied and appended in the same tick: the log's order is the order of application.
    const { logged, items } = apply(seq);
    this.seqNow = seq;
    const durable = this.log!.append(logged);
    this.sinceSnapshot++;
    await durable;
    this.maybeSnapshot();
    return { seq, items };
  }

  private startTimer(): void {
    const every = this.options.snapshotIntervalMs;
    if (every <= 0) return;
    this.timer = setInterval(() => {
      if (this.sinceSnapshot > 0 && this.snapshotting === null && !this.closed) this.snapshot().catch(() => undefined);
    }, every);
    this.timer.unref();
  }

  private maybeSnapshot(): void {
    const { snapshotEveryChanges, snapshotLogBytes } = this.options;
    const due =
      (snapshotEveryChanges > 0 && this.sinceSnapshot >= snapshotEveryChanges) ||
      (snapshotLogBytes > 0 && this.log !== null && this.log.stats.bytes >= snapshotLogBytes);
    if (due && this.snapshotting === null && !this.closed) this.snapshot().catch(() => undefined);
  }

  private async writeSnapshot(): Promise<SnapshotInfo> {
    const started = performance.now();
    // Everything applied is appended already; the bytes and the rotation are taken in one
    // tick, so the snapshot holds exactly the changes up to `seq`.
    const seq = this.seqNow;
    const mine = this.source.key === 'log' ? { id: this.source.id, seq } : { name: this.source.name, seq };
    const bytes = serializeIndex(this.index, { annotations: { ...this.otherAnnotations, [this.source.key]: mine } });
    this.sinceSnapshot = 0;
    await this.log?.rotate();
    await writeFileAtomic(this.path, bytes);
    this.snapshotSeq = seq;
    await this.log?.dropThrough(seq);
    return { seq, bytes: bytes.length, seconds: (performance.now() - started) / 1000 };
  }
}
