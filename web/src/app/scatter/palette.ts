/** Cluster colours: 20 distinguishable hues; noise (-1) is grey. */

const PALETTE = [
  0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x17becf, 0xbcbd22, 0x7f7f7f,
  0xaec7e8, 0xffbb78, 0x98df8a, 0xff9896, 0xc5b0d5, 0xc49c94, 0xf7b6d2, 0x9edae5, 0xdbdb8d, 0x393b79,
];
/** Labels further apart than this share a colour. */
export const PALETTE_SIZE = PALETTE.length;
const NOISE = 0xb0b0b0;
/** Points placed into a finished layout: a colour no label has, inside a dark ring. */
export const PLACED_FILL = '#ffd21f';
export const PLACED_RING = '#1d2330';
const PLAIN = 0x3b6fd6;

export function colourOf(label: number | null): string {
  const rgb = label === null ? PLAIN : label < 0 ? NOISE : PALETTE[label % PALETTE.length];
  return `#${rgb.toString(16).padStart(6, '0')}`;
}

/** RGBA bytes per point (alpha 210), by label or one colour when there are none. */
export function colourBytes(count: number, labels: Int32Array | null): Uint8Array {
  const out = new Uint8Array(count * 4);
  for (let i = 0; i < count; i++) {
    const label = labels ? labels[i] : null;
    const rgb = label === null ? PLAIN : label < 0 ? NOISE : PALETTE[label % PALETTE.length];
    out[4 * i] = (rgb >> 16) & 255;
    out[4 * i + 1] = (rgb >> 8) & 255;
    out[4 * i + 2] = rgb & 255;
    out[4 * i + 3] = label !== null && label < 0 ? 120 : 210;
  }
  return out;
}
