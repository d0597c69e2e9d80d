import { WebannoloError } from '../errors.js';

/**
 * A save the browser's storage quota cannot take (refused before writing when
 * navigator.storage.estimate says so, or when the storage throws QuotaExceededError
 * midway). Code IO_FAILURE; nothing was changed: the previous copy of the index, if any,
 * is still there. Says how many bytes the save needed and how many the origin has left.
 */
export class StorageFullError extends WebannoloError {
  /** Bytes of the index file the save writes. */
  readonly neededBytes: number;
  /** Bytes the origin may still use (quota - usage), or null where the browser does not say. */
  readonly availableBytes: number | null;

  constructor(name: string, neededBytes: number, quota: number | null, usage: number | null) {
    const available = quota !== null && usage !== null ? Math.max(0, quota - usage) : null;
    const room =
      available === null
        ? 'the browser refused the space and does not say how much is left'
        : `this site may use ${mib(available)} more (${mib(usage!)} used of a ${mib(quota!)} quota)`;
    super(
      'IO_FAILURE',
      `saving index '${name}' needs ${mib(neededBytes)}, but ${room}: delete saved indexes (deleteIndex) or free space in the browser; the previous copy, if any, is unchanged`,
    );
    this.neededBytes = neededBytes;
    this.availableBytes = available;
  }
}

function mib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
