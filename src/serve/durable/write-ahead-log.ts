import { type FileHandle, open, unlink } from 'node:fs/promises';
import { fail, WebannoloError } from '../../errors.js';
import { encodeRecord, type LoggedChange } from './log-record.js';
import {
  cutTornTail,
  listSegments,
  type ReadSegment,
  readSegment,
  SEGMENT_HEADER_BYTES,
  segmentHeader,
  segmentPath,
  syncDirectory,
} from './log-segments.js';

/** What the log did since it opened, for metrics. */
export interface LogStats {
  /** The segment records go to now. */
  readonly segment: number;
  /** Bytes in the segments kept on disk. */
  readonly bytes: number;
  /** Records appended since open. */
  readonly appends: number;
  /** fsyncs since open (one per group of records written together). */
  readonly fsyncs: number;
  /** The most records one fsync made durable. */
  readonly largestGroup: number;
}

interface Waiter {
  readonly bytes: Uint8Array;
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

interface Segment {
  readonly number: number;
  bytes: number;
  /** The largest sequence number it holds (0: none). */
  maxSeq: number;
}

/**
 * The append side of the write-ahead log, with group commit: records appended while a write
 * and its fsync run are written together next, under one fsync, and each append resolves
 * once its record is durable. Every file operation (a group's write, a rotation, closing)
 * runs on one chain, in order.
 *
 * After a failed write or fsync the log refuses every later append: what reached the disk is
 * then unknown (a retried fsync may report success for pages the kernel already dropped), so
 * only a restart, which replays what is really there, may go on.
 */
export class WriteAheadLog {
  private pending: Waiter[] = [];
  private groupScheduled = false;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private failed: Error | null = null;
  private counts = { appends: 0, fsyncs: 0, largestGroup: 0 };

  private constructor(
    private readonly indexPath: string,
    private readonly logId: Uint8Array,
    private readonly fsync: boolean,
    private handle: FileHandle,
    private readonly segments: Segment[],
  ) {}

  /**
   * Opens the log beside `indexPath` whose id is `logId`: reads every segment (records in
   * order), drops a torn tail of the last one, and readies the last segment for appends (a
   * first segment is created when there is none). Returns the log and what it held.
   */
  static async open(
    indexPath: string,
    logId: Uint8Array,
    idText: string,
    options: { fsync: boolean },
  ): Promise<{ log: WriteAheadLog; read: ReadSegment[] }> {
    const numbers = await listSegments(indexPath);
    const read: ReadSegment[] = [];
    for (const [i, n] of numbers.entries()) read.push(await readSegment(indexPath, n, idText, i === numbers.length - 1));
    const last = read.at(-1);
    let handle: FileHandle;
    const segments: Segment[] = read.map((s) => ({ number: s.number, bytes: s.end, maxSeq: s.changes.at(-1)?.seq ?? 0 }));
    if (last === undefined || last.end === 0) {
      const number = last?.number ?? 1;
      handle = await createSegment(indexPath, number, logId);
      if (last === undefined) segments.push({ number, bytes: 0, maxSeq: 0 });
      segments.at(-1)!.bytes = segmentHeader(number, logId).length;
    } else {
      await cutTornTail(last);
      handle = await open(last.path, 'r+');
    }
    return { log: new WriteAheadLog(indexPath, logId, options.fsync, handle, segments), read };
  }

  /**
   * Appends a change; resolves once it is durable (written and fsynced with its group), or
   * rejects (the log then refuses later appends too). Changes must come in sequence order.
   */
  append(change: LoggedChange): Promise<void> {
    if (this.closed) return Promise.reject(new WebannoloError('CLOSED', 'the write-ahead log is closed'));
    if (this.failed) return Promise.reject(this.failedError());
    const bytes = encodeRecord(change);
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ bytes, seq: change.seq, resolve, reject });
      if (!this.groupScheduled) {
        this.groupScheduled = true;
        void this.onChain(() => this.writeGroup());
      }
    });
  }

  /** Resolves once every change appended before the call is durable. */
  flush(): Promise<void> {
    return this.onChain(async () => {
      if (this.failed) throw this.failedError();
    });
  }

  /**
   * Starts a new segment for the records appended from now on (those already queued may land
   * in either); returns its number.
   */
  rotate(): Promise<number> {
    return this.onChain(async () => {
      if (this.failed) throw this.failedError();
      const number = this.segments.at(-1)!.number + 1;
      const next = await createSegment(this.indexPath, number, this.logId);
      await this.handle.close();
      this.handle = next;
      this.segments.push({ number, bytes: SEGMENT_HEADER_BYTES, maxSeq: 0 });
      return number;
    });
  }

  /** Removes the segments before the current one whose records all have seq <= `seq` (a snapshot holds them). */
  dropThrough(seq: number): Promise<number> {
    return this.onChain(async () => {
      let dropped = 0;
      while (this.segments.length > 1 && this.segments[0]!.maxSeq <= seq) {
        const s = this.segments.shift()!;
        await unlink(segmentPath(this.indexPath, s.number)).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'ENOENT') throw e;
        });
        dropped++;
      }
      if (dropped > 0) await syncDirectory(this.indexPath);
      return dropped;
    });
  }

  /** Makes everything appended durable and closes the file; later appends reject with CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.onChain(() => this.handle.close()).catch(() => undefined);
  }

  get stats(): LogStats {
    return {
      segment: this.segments.at(-1)!.number,
      bytes: this.segments.reduce((sum, s) => sum + s.bytes, 0),
      ...this.counts,
    };
  }

  /** The error that stopped the log, or null. */
  get failure(): Error | null {
    return this.failed;
  }

  private onChain<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task);
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async writeGroup(): Promise<void> {
    this.groupScheduled = false;
    const group = this.pending;
    this.pending = [];
    if (group.length === 0) return;
    if (this.failed) {
      for (const w of group) w.reject(this.failedError());
      return;
    }
    const segment = this.segments.at(-1)!;
    try {
      const bytes = Buffer.concat(group.map((w) => w.bytes));
      for (let done = 0; done < bytes.length; ) {
        const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done, segment.bytes + done);
        done += bytesWritten;
      }
      if (this.fsync) await this.handle.datasync();
      segment.bytes += bytes.length;
      segment.maxSeq = group.at(-1)!.seq;
      this.counts.appends += group.length;
      this.counts.fsyncs++;
      this.counts.largestGroup = Math.max(this.counts.largestGroup, group.length);
    } catch (e) {
      this.failed = e instanceof Error ? e : new Error(String(e));
      for (const w of [...group, ...this.pending.splice(0)]) w.reject(this.failedError());
      return;
    }
    for (const w of group) w.resolve();
  }

  private failedError(): WebannoloError {
    return new WebannoloError(
      'IO_FAILURE',
      `the write-ahead log failed (${this.failed!.message}); restart the service to replay what is durable`,
    );
  }
}

/** Creates segment `number` with its header, durable (file and name), open for appends. */
async function createSegment(indexPath: string, number: number, logId: Uint8Array): Promise<FileHandle> {
  const path = segmentPath(indexPath, number);
  const handle = await open(path, 'w+');
  try {
    await handle.write(segmentHeader(number, logId), 0, SEGMENT_HEADER_BYTES, 0);
    await handle.sync();
  } catch (e) {
    await handle.close();
    fail('IO_FAILURE', `cannot create write-ahead log segment ${path}: ${(e as Error).message}`);
  }
  await syncDirectory(indexPath);
  return handle;
}
