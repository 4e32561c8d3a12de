/** Row-major float32 matrices: the shape every large array takes in this package. */

import { NpyFormatError, parseNpy, type Npy } from './npy';

export interface Matrix {
  /** `rows * cols` values, row after row. */
  data: Float32Array;
  rows: number;
  cols: number;
}

export function isMatrix(value: unknown): value is Matrix {
  return typeof value === 'object' && value !== null && (value as Matrix).data instanceof Float32Array;
}

/** Packs a list of equal-length rows into a Matrix. */
export function matrixFromRows(rows: readonly (readonly number[])[]): Matrix {
  const cols = rows.length > 0 ? rows[0].length : 0;
  const data = new Float32Array(rows.length * cols);
  rows.forEach((row, i) => {
    if (row.length !== cols) {
      throw new RangeError(`expected every row to have ${cols} values; row ${i} has ${row.length}`);
    }
    data.set(row, i * cols);
  });
  return { data, rows: rows.length, cols };
}

export function matrixToRows(m: Matrix): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < m.rows; r++) out.push(Array.from(m.data.subarray(r * m.cols, (r + 1) * m.cols)));
  return out;
}

function toFloat32(npy: Npy): Float32Array {
  const { data } = npy;
  if (data instanceof Float32Array) return data;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    return Float32Array.from(data, (v) => Number(v));
  }
  return Float32Array.from(data);
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  // Fortran order stores column after column.
  const out = new Float32Array(rows * cols);
  for (let c = 0; c < cols; c++) {
    for (let r = 0; r < rows; r++) out[r * cols + c] = data[c * rows + r];
  }
  return out;
}

/** A 2-D (or 1-D, taken as one column) `.npy` as a float32 Matrix. */
export function matrixFromNpy(buffer: ArrayBuffer): Matrix {
  const npy = parseNpy(buffer);
  if (npy.shape.length !== 1 && npy.shape.length !== 2) {
    throw new NpyFormatError(`expected a 1-D or 2-D array; found shape (${npy.shape.join(', ')})`);
  }
  const rows = npy.shape[0];
  const cols = npy.shape.length === 2 ? npy.shape[1] : 1;
  let data = toFloat32(npy);
  if (npy.fortranOrder && cols > 1) data = transpose(data, rows, cols);
  return { data, rows, cols };
}

/** A 1-D integer `.npy` (e.g. cluster labels) as an Int32Array. */
export function labelsFromNpy(buffer: ArrayBuffer): Int32Array {
  const npy = parseNpy(buffer);
  if (npy.shape.length !== 1) {
    throw new NpyFormatError(`expected a 1-D array of labels; found shape (${npy.shape.join(', ')})`);
  }
  const { data } = npy;
  if (data instanceof Int32Array) return data;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    return Int32Array.from(data, (v) => Number(v));
  }
  return Int32Array.from(data);
}

/** `a`'s rows, then `b`'s (both with the same number of columns). */
export function appendRows(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.cols) throw new RangeError(`expected ${a.cols} columns to append; found ${b.cols}`);
  const data = new Float32Array(a.data.length + b.data.length);
  data.set(a.data);
  data.set(b.data, a.data.length);
  return { data, rows: a.rows + b.rows, cols: a.cols };
}
