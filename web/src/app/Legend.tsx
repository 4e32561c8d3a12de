/**
 * Which colour is which label: a swatch, the label and how many rows have it; and the
 * points placed into the layout, when there are any.
 */

import { useMemo } from 'react';
import { colourOf, PALETTE_SIZE, PLACED_FILL, PLACED_RING } from './scatter/palette';

export interface LabelCount {
  label: number;
  count: number;
}

/** Rows per label, clusters in label order, noise (-1) last. */
export function countLabels(labels: Int32Array): LabelCount[] {
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
  return [...counts].map(([label, count]) => ({ label, count }))
    .sort((a, b) => (a.label < 0) === (b.label < 0) ? a.label - b.label : a.label < 0 ? 1 : -1);
}

const plural = (name: string) => (name.endsWith('s') ? `${name}es` : `${name}s`);

export function Legend({ labels, name, placed = 0 }: { labels: Int32Array | null; name: string; placed?: number }) {
  const groups = useMemo(() => (labels ? countLabels(labels) : []), [labels]);
  const clusters = groups.filter((g) => g.label >= 0);
  const noise = groups.filter((g) => g.label < 0);
  // one entry per palette colour: past that, colours repeat and the list would only grow
  const shown = [...clusters.slice(0, PALETTE_SIZE), ...noise];
  const hidden = clusters.length - Math.min(clusters.length, PALETTE_SIZE);
  return (
    <ul className="plot-legend" data-testid="legend" aria-label={`colour legend: ${plural(name)}`}>
      {shown.map(({ label, count }) => (
        <li key={label} data-label={label} data-colour={colourOf(label)}>
          <span className="swatch" style={{ background: colourOf(label) }} />
          {label < 0 ? 'noise' : `${name} ${label}`} <small>{count.toLocaleString('en-US')}</small>
        </li>
      ))}
      {hidden > 0 && (
        <li className="plot-legend-more">+{hidden} more {plural(name)} (colours repeat every {PALETTE_SIZE})</li>
      )}
      {placed > 0 && (
        <li className="plot-legend-placed" data-placed={placed} data-colour={PLACED_FILL}>
          <span className="swatch" style={{ background: PLACED_FILL, boxShadow: `0 0 0 1.5px ${PLACED_RING}` }} />
          placed ({placed.toLocaleString('en-US')})
        </li>
      )}
    </ul>
  );
}
