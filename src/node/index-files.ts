import { describeIndexFile, deserializeIndex, serializeIndex, type AnyIndex } from '../io/index-codec.js';
import type { ContainerHeader } from '../io/container.js';
import { readBytes, writeFileAtomic } from './files.js';

/** Writes an index to `path` atomically (temp file + rename): a crash never leaves half a file. */
export async function saveIndexFile(index: AnyIndex, path: string): Promise<void> {
  await writeFileAtomic(path, serializeIndex(index));
}

/** Reads an index file; damaged, truncated, foreign or newer-version files fail clearly. */
export async function loadIndexFile(path: string): Promise<AnyIndex> {
  return deserializeIndex(await readBytes(path));
}

/** The header of an index file (what it holds, parameters, sections) and the file size. */
export async function readIndexHeader(path: string): Promise<{ header: ContainerHeader; fileBytes: number }> {
  const bytes = await readBytes(path);
  return { header: describeIndexFile(bytes), fileBytes: bytes.length };
}

