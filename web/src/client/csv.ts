/** CSV of numbers into a float32 Matrix (an optional header line is skipped). */

import type { Matrix } from './matrix';

export class CsvFormatError extends Error {
  override name = 'CsvFormatError';
}

function splitter(line: string): RegExp {
  if (line.includes(',')) return /,/;
  if (line.includes(';')) return /;/;
  if (line.includes('\t')) return /\t/;
  return /\s+/;
}

export function parseCsv(text: string): Matrix {
  const lines = text.split(/\r?\n/);
  let start = 0;
  while (start < lines.length && lines[start].trim() === '') start++;
  if (start === lines.length) throw new CsvFormatError('expected rows of numbers; the file is empty');
  const sep = splitter(lines[start]);
  const first = lines[start].trim().split(sep);
  if (first.some((cell) => cell.trim() !== '' && Number.isNaN(Number(cell)))) start++; // a header
  const cols = first.length;
  let values = new Float32Array(Math.max(1024, cols * 1024));
  let size = 0;
  let rows = 0;
  for (let i = start; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const cells = line.split(sep);
    if (cells.length !== cols) {
      throw new CsvFormatError(`expected ${cols} values per line; line ${i + 1} has ${cells.length}`);
    }
    if (size + cols > values.length) {
      const grown = new Float32Array(values.length * 2);
      grown.set(values);
      values = grown;
    }
    for (const cell of cells) {
      const v = Number(cell);
      if (cell.trim() === '' || !Number.isFinite(v)) {
        throw new CsvFormatError(`expected finite numbers; line ${i + 1} holds ${JSON.stringify(cell)}`);
      }
      values[size++] = v;
    }
    rows++;
  }
  if (rows === 0) throw new CsvFormatError('expected at least one row of numbers after the header');
  return { data: values.slice(0, size), rows, cols };
}
