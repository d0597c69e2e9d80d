import { closeSync, readSync } from 'node:fs';
import { RowFileStore } from '../quant/dense/row-file-store.js';
import type { Metric } from '../types.js';

export interface DiskDenseStoreOptions {
  /** An open file descriptor (the store owns it from now on: close() closes it). */
  fd: number;
  /** Byte offset of the row-major float32 vectors in the file. */
  offset: number;
  size: number;
  dim: number;
  metric: Metric;
  /** For error messages. */
  path?: string;
}

/**
 * Plain dense vectors left in a file on disk: a RowFileStore reading through fs.readSync
 * (adjacent rows in one read; the descriptor is closed by close(), or when the store is
 * dropped unclosed). Node only.
 */
export class DiskDenseStore extends RowFileStore {
  /** The file the vectors are read from (for messages). */
  readonly path: string;

  constructor(options: DiskDenseStoreOptions) {
    const { fd } = options;
    const path = options.path ?? 'index file';
    super({
      reader: {
        label: path,
        read: (into, position) => readSync(fd, into, 0, into.length, position),
        close: () => closeSync(fd),
      },
      offset: options.offset,
      size: options.size,
      dim: options.dim,
      metric: options.metric,
    });
    this.path = path;
  }
}
