import { describe, expect, it } from 'vitest';
import { boundsOf, PointGrid } from '../src/app/scatter/grid';

function brute(xy: Float32Array, x: number, y: number, radius: number): number {
  let best = -1;
  let bestD = radius * radius;
  for (let i = 0; i < xy.length / 2; i++) {
    const d = (xy[2 * i] - x) ** 2 + (xy[2 * i + 1] - y) ** 2;
    if (d <= bestD) {
      bestD = d;
      best = i;
    }
  }
  return best;
}

describe('PointGrid', () => {
  it('finds the same nearest point as a full scan, and none outside the radius', () => {
    let seed = 3;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const n = 20_000;
    const xy = Float32Array.from({ length: n * 2 }, (_, i) => (i % 2 ? rand() * 4 : rand() * 10 - 5));
    const grid = new PointGrid(xy, n, boundsOf(xy, n));
    for (let q = 0; q < 300; q++) {
      const [x, y, r] = [rand() * 12 - 6, rand() * 5 - 0.5, rand() * 0.2];
      const found = grid.nearest(x, y, r);
      const expected = brute(xy, x, y, r);
      if (found !== expected) {
        // ties at equal distance may pick either point
        const d = (i: number) => (xy[2 * i] - x) ** 2 + (xy[2 * i + 1] - y) ** 2;
        expect(found).toBeGreaterThanOrEqual(0);
        expect(d(found)).toBeCloseTo(d(expected), 10);
      }
    }
    expect(grid.nearest(100, 100, 1)).toBe(-1);
  });

  it('handles a single point and identical points', () => {
    const one = Float32Array.of(1, 1);
    expect(new PointGrid(one, 1, boundsOf(one, 1)).nearest(1.01, 1, 0.1)).toBe(0);
    const same = Float32Array.of(2, 2, 2, 2, 2, 2);
    expect(new PointGrid(same, 3, boundsOf(same, 3)).nearest(2, 2, 0.1)).toBeGreaterThanOrEqual(0);
  });
});
