import type { ContainerPieces } from '../io/container.js';
import { crc32 } from '../io/crc32.js';
import type { FileWriter } from './file-store.js';

/** Bytes per write (and per IndexedDB record). */
export const WRITE_CHUNK = 4 << 20;

/**
 * Streams a laid-out index file (serializeIndexPieces) to `writer` and appends its CRC. The
 * pieces view the index's memory (shared memory too, which storage APIs refuse), so they pass
 * through two staging buffers of `chunkBytes`: one fills while the other is being written.
 * Memory stays at two chunks whatever the index's size.
 */
export async function writePieces(file: ContainerPieces, writer: FileWriter, chunkBytes = WRITE_CHUNK): Promise<void> {
  const stages = [new Uint8Array(chunkBytes), new Uint8Array(chunkBytes)];
  let current = 0;
  let fill = 0;
  let inFlight: Promise<void> = Promise.resolve();
  let crc = 0;
  const flush = async (): Promise<void> => {
    const full = stages[current]!.subarray(0, fill);
    await inFlight;
    inFlight = writer.write(full);
    // Keep a rejection of the write in flight from going unhandled until it is awaited.
    inFlight.catch(() => {});
    current ^= 1;
    fill = 0;
  };
  for (const piece of file.pieces) {
    for (let at = 0; at < piece.length; ) {
      const n = Math.min(chunkBytes - fill, piece.length - at);
      const stage = stages[current]!;
      stage.set(piece.subarray(at, at + n), fill);
      crc = crc32(stage.subarray(fill, fill + n), crc);
      fill += n;
      at += n;
      if (fill === chunkBytes) await flush();
    }
  }
  if (chunkBytes - fill < 4) await flush();
  new DataView(stages[current]!.buffer).setUint32(fill, crc, true);
  fill += 4;
  await flush();
  await inFlight;
}
