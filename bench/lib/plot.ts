// Bar charts for benchmark results: an SVG written by hand, turned into a PNG by
// rsvg-convert (Debian's librsvg2-bin) when it is installed.
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
  const width = W * panels.length;
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H + 30}" font-family="DejaVu Sans, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="${H + 22}" text-anchor="middle" font-size="12" fill="#555">${xml(title)}</text>`,
    ...panels.map((p, i) => panel(p, i * W)),
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
