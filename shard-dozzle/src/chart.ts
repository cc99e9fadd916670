import type * as PngJs from 'pngjs';

// Loaded with the first chart: a Watchman that is never asked for a window does not hold the encoder.
let pngModule: Promise<typeof PngJs> | undefined;
const loadPng = (): Promise<typeof PngJs> => (pngModule ??= import('pngjs'));

export interface Series {
  values: number[];
  /** RGB. */
  color: [number, number, number];
}

const WIDTH = 480;
const HEIGHT = 200;
const MARGIN = 10;
const GRID: [number, number, number] = [220, 220, 220];
const AXIS: [number, number, number] = [120, 120, 120];
export const CPU_COLOR: [number, number, number] = [31, 119, 180];
export const MEMORY_COLOR: [number, number, number] = [255, 127, 14];

/**
 * A line chart of percentages as a PNG: one line per series over the same
 * samples, the y axis from 0 to 100 % (or to the next hundred above the
 * highest value: CPU can exceed one core), grid lines every quarter. It has no
 * text; the numbers travel beside it.
 */
export async function percentChart(series: Series[]): Promise<Buffer> {
  const { PNG } = await loadPng();
  const png = new PNG({ width: WIDTH, height: HEIGHT });
  png.data.fill(255);
  const top = Math.max(100, Math.ceil(Math.max(0, ...series.flatMap((s) => s.values)) / 100) * 100);
  const plotW = WIDTH - 2 * MARGIN;
  const plotH = HEIGHT - 2 * MARGIN;
  const x = (i: number, n: number) => MARGIN + (n <= 1 ? plotW / 2 : (i * plotW) / (n - 1));
  const y = (v: number) => MARGIN + plotH - (Math.max(0, v) / top) * plotH;

  const set = (px: number, py: number, [r, g, b]: [number, number, number]) => {
    const cx = Math.round(px);
    const cy = Math.round(py);
    if (cx < 0 || cy < 0 || cx >= WIDTH || cy >= HEIGHT) return;
    const at = (cy * WIDTH + cx) * 4;
    png.data[at] = r;
    png.data[at + 1] = g;
    png.data[at + 2] = b;
    png.data[at + 3] = 255;
  };
  const line = (x0: number, y0: number, x1: number, y1: number, color: [number, number, number], width = 1) => {
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    for (let i = 0; i <= steps; i++) {
      const px = x0 + ((x1 - x0) * i) / steps;
      const py = y0 + ((y1 - y0) * i) / steps;
      for (let d = 0; d < width; d++) set(px, py + d - Math.floor(width / 2), color);
    }
  };

  for (let q = 1; q <= 4; q++) line(MARGIN, y((top * q) / 4), WIDTH - MARGIN, y((top * q) / 4), GRID);
  line(MARGIN, MARGIN, MARGIN, HEIGHT - MARGIN, AXIS);
  line(MARGIN, HEIGHT - MARGIN, WIDTH - MARGIN, HEIGHT - MARGIN, AXIS);
  for (const s of series) {
    const n = s.values.length;
    if (n === 1) line(x(0, 1) - 3, y(s.values[0]!), x(0, 1) + 3, y(s.values[0]!), s.color, 3);
    for (let i = 1; i < n; i++) line(x(i - 1, n), y(s.values[i - 1]!), x(i, n), y(s.values[i]!), s.color, 3);
  }
  return PNG.sync.write(png);
}
