/**
 * A uniform grid over 2-D points for nearest-point picking: building it is two
 * counting passes (a few ms at 100k points) and a query looks only at the cells
 * within the search radius.
 */

export interface Bounds {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

export function boundsOf(xy: Float32Array, count: number): Bounds {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < count; i++) {
    const x = xy[2 * i];
    const y = xy[2 * i + 1];
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  if (count === 0) return { minX: -1, minY: -1, maxX: 1, maxY: 1 };
  return { minX, minY, maxX, maxY };
}

export class PointGrid {
  private readonly cells: number;
  private readonly cellStart: Int32Array;
  private readonly order: Int32Array;
  private readonly sx: number;
  private readonly sy: number;

  constructor(private readonly xy: Float32Array, private readonly count: number, private readonly b: Bounds) {
    this.cells = Math.max(1, Math.min(1024, Math.ceil(Math.sqrt(count / 4))));
    this.sx = this.cells / Math.max(b.maxX - b.minX, 1e-12);
    this.sy = this.cells / Math.max(b.maxY - b.minY, 1e-12);
    const n = this.cells * this.cells;
    const cellOf = new Int32Array(count);
    const counts = new Int32Array(n + 1);
    for (let i = 0; i < count; i++) {
      const c = this.cellIndex(xy[2 * i], xy[2 * i + 1]);
      cellOf[i] = c;
      counts[c + 1]++;
    }
    for (let c = 0; c < n; c++) counts[c + 1] += counts[c];
    this.cellStart = counts;
    const fill = counts.slice(0, n);
    this.order = new Int32Array(count);
    for (let i = 0; i < count; i++) this.order[fill[cellOf[i]]++] = i;
  }

  private clampCell(v: number): number {
    return v < 0 ? 0 : v >= this.cells ? this.cells - 1 : v;
  }

  private cellIndex(x: number, y: number): number {
    const cx = this.clampCell(Math.floor((x - this.b.minX) * this.sx));
    const cy = this.clampCell(Math.floor((y - this.b.minY) * this.sy));
    return cy * this.cells + cx;
  }

  /** Index of the point nearest (x, y) within `radius`, or -1. */
  nearest(x: number, y: number, radius: number): number {
    const x0 = this.clampCell(Math.floor((x - radius - this.b.minX) * this.sx));
    const x1 = this.clampCell(Math.floor((x + radius - this.b.minX) * this.sx));
    const y0 = this.clampCell(Math.floor((y - radius - this.b.minY) * this.sy));
    const y1 = this.clampCell(Math.floor((y + radius - this.b.minY) * this.sy));
    let best = -1;
    let bestD = radius * radius;
    for (let cy = y0; cy <= y1; cy++) {
      for (let cx = x0; cx <= x1; cx++) {
        const c = cy * this.cells + cx;
        for (let k = this.cellStart[c]; k < this.cellStart[c + 1]; k++) {
          const i = this.order[k];
          const dx = this.xy[2 * i] - x;
          const dy = this.xy[2 * i + 1] - y;
          const d = dx * dx + dy * dy;
          if (d <= bestD) {
            bestD = d;
            best = i;
          }
        }
      }
    }
    return best;
  }
}
