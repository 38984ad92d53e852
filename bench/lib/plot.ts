// Bar and line charts for benchmark results: an SVG written by hand, turned
// into a PNG by rsvg-convert (Debian's librsvg2-bin) when it is installed.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";

export interface BarPanel {
  title: string;
  unit: string;
  bars: { label: string; value: number; highlight?: boolean }[];
  /** a dashed reference line, e.g. 0.9 x ceiling */
  reference?: { value: number; label: string };
}

const W = 420;
const H = 300;
const PAD = { top: 40, right: 20, bottom: 70, left: 70 };

function xml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function panel(p: BarPanel, x0: number): string {
  const max = Math.max(...p.bars.map((b) => b.value), p.reference?.value ?? 0) * 1.15;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / p.bars.length;
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  const parts = [
    `<text x="${x0 + W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${xml(p.title)}</text>`,
    `<line x1="${x0 + PAD.left}" y1="${PAD.top + plotH}" x2="${x0 + W - PAD.right}" y2="${PAD.top + plotH}" stroke="#333"/>`,
    `<text x="${x0 + 16}" y="${PAD.top + plotH / 2}" font-size="12" transform="rotate(-90 ${x0 + 16} ${PAD.top + plotH / 2})" text-anchor="middle">${xml(p.unit)}</text>`,
  ];
  p.bars.forEach((b, i) => {
    const bx = x0 + PAD.left + i * slot + slot * 0.15;
    const bw = slot * 0.7;
    const top = y(b.value);
    parts.push(
      `<rect x="${bx}" y="${top}" width="${bw}" height="${PAD.top + plotH - top}" fill="${b.highlight ? "#2a7ab9" : "#9bb7cc"}"/>`,
      `<text x="${bx + bw / 2}" y="${top - 4}" text-anchor="middle" font-size="11">${xml(fmtValue(b.value))}</text>`,
      `<text x="${bx + bw / 2}" y="${PAD.top + plotH + 16}" text-anchor="middle" font-size="11">${xml(b.label)}</text>`,
    );
  });
  if (p.reference) {
    const ry = y(p.reference.value);
    parts.push(
      `<line x1="${x0 + PAD.left}" y1="${ry}" x2="${x0 + W - PAD.right}" y2="${ry}" stroke="#c0392b" stroke-dasharray="5,4"/>`,
      `<text x="${x0 + PAD.left + 4}" y="${ry - 4}" text-anchor="start" font-size="11" fill="#c0392b">${xml(p.reference.label)}</text>`,
    );
  }
  return parts.join("\n");
}

function fmtValue(v: number): string {
  return v >= 1000 ? Math.round(v).toLocaleString("en-US") : String(Math.round(v * 100) / 100);
}

/** Writes <base>.svg and, when rsvg-convert exists, <base>.png; returns the paths written. */
export function writeBarChart(base: string, title: string, panels: BarPanel[]): string[] {
  return writeChart(
    base,
    title,
    panels.map((p, i) => panel(p, i * W)),
  );
}

/** One line chart: x values are categories (equally spaced, labelled), one line per series. */
export interface LinePanel {
  title: string;
  unit: string;
  xLabel: string;
  x: (number | string)[];
  /** values[i] belongs to x[i]; null where the series has no point */
  series: { label: string; values: (number | null)[]; highlight?: boolean }[];
  reference?: { value: number; label: string };
}

const LINE_COLORS = ["#2a7ab9", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#7f8c8d"];

function linePanel(p: LinePanel, x0: number): string {
  const values = p.series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const max = Math.max(...values, p.reference?.value ?? 0, 1e-9) * 1.15;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / p.x.length;
  const px = (i: number) => x0 + PAD.left + slot * (i + 0.5);
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  const lx = (k: number) => x0 + PAD.left + (k % 2) * (plotW / 2);
  const ly = (k: number) => PAD.top + plotH + 48 + Math.floor(k / 2) * 14;
  const parts = [
    `<text x="${x0 + W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${xml(p.title)}</text>`,
    `<line x1="${x0 + PAD.left}" y1="${PAD.top + plotH}" x2="${x0 + W - PAD.right}" y2="${PAD.top + plotH}" stroke="#333"/>`,
    `<line x1="${x0 + PAD.left}" y1="${PAD.top}" x2="${x0 + PAD.left}" y2="${PAD.top + plotH}" stroke="#333"/>`,
    `<text x="${x0 + 16}" y="${PAD.top + plotH / 2}" font-size="12" transform="rotate(-90 ${x0 + 16} ${PAD.top + plotH / 2})" text-anchor="middle">${xml(p.unit)}</text>`,
    `<text x="${x0 + PAD.left + plotW / 2}" y="${PAD.top + plotH + 32}" text-anchor="middle" font-size="12">${xml(p.xLabel)}</text>`,
    `<line x1="${x0 + PAD.left}" y1="${y(max / 1.15)}" x2="${x0 + W - PAD.right}" y2="${y(max / 1.15)}" stroke="#ddd"/>`,
    `<text x="${x0 + PAD.left - 4}" y="${y(max / 1.15) + 4}" text-anchor="end" font-size="10">${xml(fmtValue(max / 1.15))}</text>`,
    `<text x="${x0 + PAD.left - 4}" y="${PAD.top + plotH}" text-anchor="end" font-size="10">0</text>`,
  ];
  p.x.forEach((x, i) => {
    parts.push(
      `<text x="${px(i)}" y="${PAD.top + plotH + 16}" text-anchor="middle" font-size="11">${xml(typeof x === "number" ? fmtValue(x) : x)}</text>`,
    );
  });
  p.series.forEach((s, k) => {
    const color = LINE_COLORS[k % LINE_COLORS.length]!;
    const pts = s.values.flatMap((v, i) => (v === null ? [] : [`${px(i)},${y(v)}`]));
    const width = s.highlight ? 3 : 2;
    parts.push(
      `<polyline points="${pts.join(" ")}" fill="none" stroke="${color}" stroke-width="${width}"/>`,
      ...pts.map((pt) => {
        const [cx, cy] = pt.split(",");
        return `<circle cx="${cx}" cy="${cy}" r="3" fill="${color}"/>`;
      }),
      // The legend goes under the axis, two entries a row, clear of the lines.
      `<rect x="${lx(k)}" y="${ly(k) - 4}" width="12" height="3" fill="${color}"/>`,
      `<text x="${lx(k) + 16}" y="${ly(k)}" font-size="11">${xml(s.label)}</text>`,
    );
  });
  if (p.reference) {
    const ry = y(p.reference.value);
    parts.push(
      `<line x1="${x0 + PAD.left}" y1="${ry}" x2="${x0 + W - PAD.right}" y2="${ry}" stroke="#c0392b" stroke-dasharray="5,4"/>`,
      `<text x="${x0 + W - PAD.right - 4}" y="${ry - 4}" text-anchor="end" font-size="11" fill="#c0392b">${xml(p.reference.label)}</text>`,
    );
  }
  return parts.join("\n");
}

/** Line charts side by side, written like writeBarChart. */
export function writeLineChart(base: string, title: string, panels: LinePanel[]): string[] {
  return writeChart(
    base,
    title,
    panels.map((p, i) => linePanel(p, i * W)),
  );
}

function writeChart(base: string, title: string, bodies: string[]): string[] {
  const width = W * bodies.length;
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H + 30}" font-family="DejaVu Sans, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="${H + 22}" text-anchor="middle" font-size="12" fill="#555">${xml(title)}</text>`,
    ...bodies,
    "</svg>",
  ].join("\n");
  writeFileSync(`${base}.svg`, svg);
  const written = [`${base}.svg`];
  try {
    execFileSync("rsvg-convert", ["-o", `${base}.png`, `${base}.svg`]);
    written.push(`${base}.png`);
  } catch {
    // no rsvg-convert: the SVG alone
  }
  return written;
}
