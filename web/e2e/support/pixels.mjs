// What a screenshot of the plot shows: how many pixels are not background, and
// how many distinct colours they have.
import { PNG } from 'pngjs';

export function inkOf(pngBuffer) {
  const png = PNG.sync.read(pngBuffer);
  const colours = new Set();
  let ink = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]];
    if (r > 245 && g > 245 && b > 245) continue;
    ink++;
    colours.add(((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4));
  }
  return { ink, colours: colours.size, pixels: png.width * png.height };
}

/** Whether a screenshot has pixels of `hex` (#rrggbb) within `tolerance` per channel:
 * points are drawn translucent, so only where several overlap is the colour itself reached. */
export function hasColour(pngBuffer, hex, tolerance = 8) {
  const png = PNG.sync.read(pngBuffer);
  const want = [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
  for (let i = 0; i < png.data.length; i += 4) {
    if (Math.abs(png.data[i] - want[0]) <= tolerance && Math.abs(png.data[i + 1] - want[1]) <= tolerance
      && Math.abs(png.data[i + 2] - want[2]) <= tolerance) return true;
  }
  return false;
}
