import type { Vector } from '../src/index.js';

/** Small DOM helpers: elements, digit pictures, result tiles. */

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node as T;
}

/** A side x side grey-scale picture of a dense vector with values 0..255 (an MNIST digit). */
export function digitCanvas(v: Vector, side: number, scale = 2.5): HTMLCanvasElement {
  const canvas = el('canvas', { width: String(side), height: String(side), class: 'digit' });
  canvas.style.width = canvas.style.height = `${side * scale}px`;
  const ctx = canvas.getContext('2d');
  if (!ctx || !(v instanceof Float32Array)) return canvas;
  const img = ctx.createImageData(side, side);
  for (let i = 0; i < side * side; i++) {
    const ink = 255 - Math.max(0, Math.min(255, v[i] ?? 0));
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = ink;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

export interface Tile {
  title: string;
  lines: string[];
  vector?: Vector;
  side: number;
  /** 'hit' (in the exact top-k), 'miss', or 'query'. */
  kind: 'hit' | 'miss' | 'query';
}

export function tile(t: Tile): HTMLElement {
  const box = el('figure', { class: `tile ${t.kind}` });
  if (t.vector && t.side > 0) box.append(digitCanvas(t.vector, t.side));
  const cap = el('figcaption');
  cap.append(el('strong', {}, t.title));
  for (const line of t.lines) cap.append(el('span', {}, line));
  box.append(cap);
  return box;
}

export function formatMs(ms: number): string {
  return ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 10 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(2)} ms`;
}

const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumSignificantDigits: 4 });

export function formatScore(s: number): string {
  return Math.abs(s) >= 10_000 ? compact.format(s) : Math.abs(s) >= 100 ? s.toFixed(0) : s.toPrecision(4);
}

export function formatBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : `${(n / 1024).toFixed(0)} KB`;
}

/** A download of `bytes` under `name`. */
export function download(bytes: Uint8Array, name: string): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
