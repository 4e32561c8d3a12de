// @vitest-environment jsdom
import { cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { countLabels, Legend } from '../src/app/Legend';
import { colourOf, PALETTE_SIZE, PLACED_FILL } from '../src/app/scatter/palette';

afterEach(cleanup);

describe('the colour legend', () => {
  it('counts rows per label, clusters in order and noise last', () => {
    expect(countLabels(Int32Array.from([2, -1, 0, 2, 1, -1, 2]))).toEqual([
      { label: 0, count: 1 }, { label: 1, count: 1 }, { label: 2, count: 3 }, { label: -1, count: 2 },
    ]);
  });

  it('names each colour the plot uses, with its count', () => {
    render(<Legend labels={Int32Array.from([0, 0, 1, -1])} name="cluster" />);
    const items = screen.getByTestId('legend').querySelectorAll('li');
    expect([...items].map((li) => li.textContent)).toEqual(['cluster 0 2', 'cluster 1 1', 'noise 1']);
    expect([...items].map((li) => li.getAttribute('data-colour'))).toEqual([colourOf(0), colourOf(1), colourOf(-1)]);
  });

  it('stops at one entry per palette colour and says how many more share them', () => {
    const labels = Int32Array.from({ length: 100 }, (_, i) => (i < 95 ? i % 25 : -1));
    render(<Legend labels={labels} name="class" />);
    const items = [...screen.getByTestId('legend').querySelectorAll('li')].map((li) => li.textContent);
    expect(items).toHaveLength(PALETTE_SIZE + 2);
    expect(items[0]).toBe('class 0 4');
    expect(items.at(-2)).toBe('noise 5');
    expect(items.at(-1)).toBe(`+5 more classes (colours repeat every ${PALETTE_SIZE})`);
  });

  it('adds the placed points last, with or without labels', () => {
    render(<Legend labels={Int32Array.from([0, 1])} name="cluster" placed={1200} />);
    const items = [...screen.getByTestId('legend').querySelectorAll('li')];
    expect(items.map((li) => li.textContent)).toEqual(['cluster 0 1', 'cluster 1 1', 'placed (1,200)']);
    expect(items[2].getAttribute('data-colour')).toBe(PLACED_FILL);
    cleanup();
    render(<Legend labels={null} name="cluster" placed={3} />);
    expect([...screen.getByTestId('legend').querySelectorAll('li')].map((li) => li.textContent)).toEqual(['placed (3)']);
  });
});
