import {
  type AnyIndex,
  deleteIndex,
  listIndexes,
  openIndex,
  type SavedIndexInfo,
  type StorageOptions,
  saveIndex,
  storageBackend,
} from '../src/index.js';
import { $, el, formatBytes, formatMs } from './render.js';
import { action, app, state, update } from './state.js';

/**
 * "Saved in this browser": the built index saved under a name (OPFS, or IndexedDB where the
 * browser has no writable OPFS; ?storage=indexeddb forces it), the saved ones listed with
 * their sizes, opened without rebuilding (how long that took is shown) and deleted.
 */

const choice = new URLSearchParams(location.search).get('storage');
const options: StorageOptions = { backend: choice === 'indexeddb' || choice === 'opfs' ? choice : 'auto' };

/** What the page does with an opened index (main.ts: pairs it with the data, as a loaded file). */
export type UseIndex = (name: string, index: AnyIndex, ms: number, bytes: number) => Promise<void>;

export function initStoragePanel(use: UseIndex): void {
  const save = $<HTMLButtonElement>('store-save');
  const nameInput = $<HTMLInputElement>('store-name');
  nameInput.addEventListener('input', () => {
    nameInput.dataset['edited'] = 'true';
  });
  save.addEventListener('click', () => void action(save, 'Could not save the index in this browser', saveCurrent));
  $('saved-list').addEventListener('click', (ev) => {
    const button = (ev.target as HTMLElement).closest('button');
    const name = button?.closest('li')?.dataset['name'];
    if (!button || name === undefined) return;
    if (button.classList.contains('open')) void action(button, `Could not open '${name}'`, () => open(name, use));
    if (button.classList.contains('delete')) void action(button, `Could not delete '${name}'`, () => remove(name));
  });
  void action(null, 'Browser storage is unavailable', async () => {
    const backend = await storageBackend(options);
    $('storage-backend').textContent = backend === 'opfs' ? 'origin private file system (OPFS)' : 'IndexedDB';
    // The list first: the panel reports its backend once it also shows what is saved.
    await refresh();
    update({ storage: { ...state.storage, backend } });
  });
}

/** The name the save box suggests for the current data. */
export function suggestName(): void {
  const input = $<HTMLInputElement>('store-name');
  if (input.dataset['edited'] !== 'true' && state.dataset)
    input.value = `${state.dataset.name.split(/[ (]/)[0]} m${app.index?.buildParams.m ?? ''}`;
}

async function saveCurrent(): Promise<void> {
  const index = app.index;
  if (!index) throw new Error('build or load an index first');
  const name = $<HTMLInputElement>('store-name').value.trim();
  if (!name) throw new Error('give the index a name to save it under');
  update({ storage: { ...state.storage, busy: true } });
  try {
    const t0 = performance.now();
    const saved = await saveIndex(index, name, options);
    const ms = performance.now() - t0;
    $('storage-info').textContent = `Saved “${saved.name}” (${formatBytes(saved.bytes)}) in ${formatMs(ms)}.`;
    update({ storage: { ...state.storage, lastSave: { name: saved.name, bytes: saved.bytes, ms } } });
  } finally {
    // The list first: once the panel is not busy, it shows what is saved.
    try {
      await refresh();
    } finally {
      update({ storage: { ...state.storage, busy: false } });
    }
  }
}

async function open(name: string, use: UseIndex): Promise<void> {
  const saved = state.storage.saved.find((s) => s.name === name);
  const t0 = performance.now();
  const index = await openIndex(name, options);
  const ms = performance.now() - t0;
  const bytes = saved?.bytes ?? 0;
  await use(name, index, ms, bytes);
  $('storage-info').textContent = `Opened “${name}” (${formatBytes(bytes)}) in ${formatMs(ms)}, ready to search: no rebuild.`;
  update({ storage: { ...state.storage, lastOpen: { name, bytes, ms } } });
}

async function remove(name: string): Promise<void> {
  await deleteIndex(name, options);
  $('storage-info').textContent = `Deleted “${name}”.`;
  await refresh();
}

async function refresh(): Promise<void> {
  const saved = await listIndexes(options);
  const list = $('saved-list');
  list.replaceChildren(...saved.map(row));
  $('saved-empty').hidden = saved.length > 0;
  update({
    storage: { ...state.storage, saved: saved.map((s) => ({ name: s.name, bytes: s.bytes, savedAt: s.savedAt.toISOString() })) },
  });
}

function row(s: SavedIndexInfo): HTMLLIElement {
  const li = el('li', { 'data-name': s.name });
  li.append(
    el('span', { class: 'name' }, s.name),
    el('span', { class: 'muted' }, `${formatBytes(s.bytes)} · ${s.savedAt.toLocaleString('en')}`),
    el('button', { type: 'button', class: 'open' }, 'Open'),
    el('button', { type: 'button', class: 'delete' }, 'Delete'),
  );
  return li;
}
