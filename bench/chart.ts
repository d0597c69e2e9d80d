/** A small hand-written SVG line chart: recall@k on x (linear), QPS on y (log10). */

export interface Series {
  name: string;
  points: { recall: number; qps: number; ef: number }[];
  /** Default: by library (first word of the name), else a fallback palette. */
  color?: string;
  /** Default: dashed when the name has a space (batch modes). */
  dashed?: boolean;
}

/** A labelled vertical reference line at recall x (e.g. the recall of an exhaustive PQ scan). */
export interface VLine {
  x: number;
  label: string;
}

const W = 860;
const H = 500;
const PLOT = { left: 70, top: 46, width: 580, height: 390 };
const COLORS: Record<string, string> = { webannolo: '#d62728', hnswlib: '#1f77b4', usearch: '#2ca02c' };
const FALLBACK = ['#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const f = (v: number) => (Math.round(v * 10) / 10).toString();

export function renderChart(
  title: string,
  subtitle: string,
  series: readonly Series[],
  k: number,
  marker = 0.95,
  vlines: readonly VLine[] = [],
): string {
  const all = series.flatMap((s) => s.points).filter((p) => p.qps > 0);
  if (all.length === 0)
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="80"><text x="10" y="40">no data</text></svg>\n`;
  const lowest = Math.min(...all.map((p) => p.recall), ...vlines.map((v) => v.x));
  const xStep = 1 - lowest > 0.5 ? 0.1 : 1 - lowest > 0.2 ? 0.05 : 0.02;
  const xMin = Math.max(0, Math.floor(lowest / xStep + 1e-9) * xStep);
  const xMax = 1;
  const yLo = Math.floor(Math.log10(Math.min(...all.map((p) => p.qps))));
  const yHi = Math.max(yLo + 1, Math.ceil(Math.log10(Math.max(...all.map((p) => p.qps)))));
  const sx = (x: number) => PLOT.left + ((x - xMin) / (xMax - xMin)) * PLOT.width;
  const sy = (q: number) => PLOT.top + PLOT.height - ((Math.log10(q) - yLo) / (yHi - yLo)) * PLOT.height;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${PLOT.left}" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="${PLOT.left}" y="37" fill="#555">${esc(subtitle)}</text>`);

  // Grid and ticks: x every 0.02, 0.05 or 0.1 by range; y at 1, 2, 5 of each decade.
  for (let i = 0, t = xMin; t <= xMax + 1e-9; i++, t = xMin + i * xStep) {
    const x = f(sx(t));
    out.push(`<line x1="${x}" y1="${PLOT.top}" x2="${x}" y2="${PLOT.top + PLOT.height}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x}" y="${PLOT.top + PLOT.height + 16}" text-anchor="middle">${t.toFixed(2)}</text>`);
  }
  const label = (v: number) => (v >= 1e6 ? `${v / 1e6}M` : v >= 1e3 ? `${v / 1e3}k` : `${v}`);
  for (let d = yLo; d <= yHi; d++) {
    for (const mul of [1, 2, 5]) {
      const v = mul * 10 ** d;
      if (Math.log10(v) > yHi + 1e-9) continue;
      const y = f(sy(v));
      out.push(
        `<line x1="${PLOT.left}" y1="${y}" x2="${PLOT.left + PLOT.width}" y2="${y}" stroke="${mul === 1 ? '#d0d0d0' : '#eeeeee'}"/>`,
      );
      out.push(`<text x="${PLOT.left - 6}" y="${y}" dy="4" text-anchor="end"${mul === 1 ? '' : ' fill="#777"'}>${label(v)}</text>`);
    }
  }
  out.push(`<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.width}" height="${PLOT.height}" fill="none" stroke="#333"/>`);
  if (marker > xMin && marker < xMax) {
    const x = f(sx(marker));
    out.push(`<line x1="${x}" y1="${PLOT.top}" x2="${x}" y2="${PLOT.top + PLOT.height}" stroke="#999" stroke-dasharray="4 3"/>`);
  }
  vlines.forEach((v, i) => {
    if (v.x < xMin || v.x > xMax) return;
    const x = f(sx(v.x));
    out.push(`<line x1="${x}" y1="${PLOT.top}" x2="${x}" y2="${PLOT.top + PLOT.height}" stroke="#444" stroke-dasharray="2 3"/>`);
    out.push(`<text x="${x}" y="${PLOT.top + 14 + i * 14}" dx="-4" text-anchor="end" fill="#444">${esc(v.label)}</text>`);
  });
  out.push(`<text x="${PLOT.left + PLOT.width / 2}" y="${H - 18}" text-anchor="middle">recall@${k}</text>`);
  out.push(
    `<text transform="translate(18 ${PLOT.top + PLOT.height / 2}) rotate(-90)" text-anchor="middle">queries per second (log scale)</text>`,
  );

  // Lines, then the legend to the right of the plot.
  series.forEach((s, i) => {
    const lib = s.name.split(' ')[0]!;
    const color = s.color ?? COLORS[lib] ?? FALLBACK[i % FALLBACK.length]!;
    const dash = (s.dashed ?? s.name.includes(' ')) ? ' stroke-dasharray="6 4"' : '';
    const pts = [...s.points].filter((p) => p.qps > 0).sort((a, b) => a.ef - b.ef);
    const path = pts.map((p) => `${f(sx(p.recall))},${f(sy(p.qps))}`).join(' ');
    out.push(`<g stroke="${color}" fill="${color}">`);
    out.push(`<polyline points="${path}" fill="none" stroke-width="2"${dash}/>`);
    for (const p of pts)
      out.push(
        `<circle cx="${f(sx(p.recall))}" cy="${f(sy(p.qps))}" r="3"><title>${esc(s.name)} ef=${p.ef}: recall ${p.recall.toFixed(4)}, ${p.qps.toFixed(0)} QPS</title></circle>`,
      );
    out.push('</g>');
    const ly = PLOT.top + 12 + i * 22;
    const lx = PLOT.left + PLOT.width + 18;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 28}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`);
    out.push(`<circle cx="${lx + 14}" cy="${ly}" r="3" fill="${color}"/>`);
    out.push(`<text x="${lx + 36}" y="${ly}" dy="4">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
