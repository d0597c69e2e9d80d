import type { HnswIndex } from '../src/index.js';
import type { Loaded } from './datasets.js';
import type { DemoGpu } from './gpu.js';
import { $ } from './render.js';
import type { Truth } from './search.js';
import type { StoreMemory } from './store-choice.js';

/**
 * What the page holds, and a machine-readable mirror of it for tests and tools:
 * `window.__webannolo` and data- attributes on <body>.
 */

export interface LastSearch {
  mode: 'single' | 'all';
  /** The backend the library reported (result.backend), not the button pressed. */
  backend: string;
  requested: 'gpu' | 'cpu';
  /** recall@k against the exact neighbours. */
  recall: number;
  /** Wall time of the search call(s). */
  latencyMs: number;
  queries: number;
  k: number;
  ef: number;
  /** The digit a single search was filtered by, or null. */
  filter?: number | null;
  /** Ids and labels of a single search's results. */
  ids?: number[];
  labels?: (number | null)[];
}

export interface PublicState {
  datasetLoaded: boolean;
  dataset: { name: string; size: number; dim: number; kind: string; queries: number } | null;
  groundTruth: { backend: string; ms: number } | null;
  gpu: { checked: boolean; available: boolean; adapter: string | null; software: boolean; message: string };
  building: boolean;
  buildProgress: number;
  built: boolean;
  buildCancelled: boolean;
  buildMs: number | null;
  /** What the index searches (f32, or codes over the same graph) and the memory it takes; null without an index. */
  store: (StoreMemory & { encodeMs: number | null }) | null;
  /** A change of the vectors searched is encoding. */
  storeBusy: boolean;
  /** Worker threads the page builds and searches with (null until known; 1 without cross-origin isolation). */
  threads: number | null;
  lastSearch: LastSearch | null;
  /** Items removed from the live index (and not added back). */
  removed: number;
  sweeping: boolean;
  chartReady: boolean;
  sweep: { label: string; points: { ef: number; qps: number; recall: number; queries: number }[] }[] | null;
  error: string | null;
  /** The "Saved in this browser" panel: backend, saved indexes, the last save and open (with their times). */
  storage: {
    backend: string | null;
    busy: boolean;
    saved: { name: string; bytes: number; savedAt: string }[];
    lastSave: { name: string; bytes: number; ms: number } | null;
    lastOpen: { name: string; bytes: number; ms: number } | null;
  };
}

export const state: PublicState = {
  datasetLoaded: false,
  dataset: null,
  groundTruth: null,
  gpu: { checked: false, available: false, adapter: null, software: false, message: 'Checking for WebGPU…' },
  building: false,
  buildProgress: 0,
  built: false,
  buildCancelled: false,
  buildMs: null,
  store: null,
  storeBusy: false,
  threads: null,
  lastSearch: null,
  removed: 0,
  sweeping: false,
  chartReady: false,
  sweep: null,
  error: null,
  storage: { backend: null, busy: false, saved: [], lastSave: null, lastOpen: null },
};

declare global {
  interface Window {
    __webannolo: PublicState;
  }
}
window.__webannolo = state;

/** Changes the public state and mirrors its flags onto <body data-…>. */
export function update(patch: Partial<PublicState>): void {
  Object.assign(state, patch);
  const b = document.body.dataset;
  b['datasetLoaded'] = String(state.datasetLoaded);
  b['built'] = String(state.built);
  b['building'] = String(state.building);
  b['chartReady'] = String(state.chartReady);
  b['gpu'] = state.gpu.available ? 'available' : state.gpu.checked ? 'missing' : 'checking';
  b['lastBackend'] = state.lastSearch?.backend ?? '';
  b['error'] = state.error ? 'true' : 'false';
  b['threads'] = String(state.threads ?? '');
}

/** The live objects behind the page. */
export const app = {
  data: null as Loaded | null,
  truth: null as Promise<Truth> | null,
  index: null as HnswIndex | null,
  /** The index's serialized bytes (what "Save" downloads). */
  indexBytes: null as Uint8Array | null,
  gpu: null as DemoGpu | null,
  gpuReady: null as Promise<DemoGpu | null> | null,
};

/** Shows an error above the page (the page itself stays as it was). */
export function showError(context: string, e: unknown): void {
  const code = e && typeof e === 'object' && 'code' in e ? ` [${String((e as { code: unknown }).code)}]` : '';
  const message = `${context}: ${e instanceof Error ? e.message : String(e)}${code}`;
  console.error(message, e);
  const box = $('error');
  box.querySelector('.message')!.textContent = message;
  box.hidden = false;
  update({ error: message });
}

export function clearError(): void {
  $('error').hidden = true;
  update({ error: null });
}

/** Runs a user action with its button disabled; errors land in the banner. */
export async function action(button: HTMLButtonElement | null, context: string, fn: () => Promise<void>): Promise<void> {
  if (button) button.disabled = true;
  clearError();
  try {
    await fn();
  } catch (e) {
    showError(context, e);
  } finally {
    if (button) button.disabled = false;
  }
}
