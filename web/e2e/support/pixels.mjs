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
