import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendRows, labelsFromNpy, matrixFromNpy } from '../src/client/matrix';
import { NpyFormatError, parseNpy, writeNpy } from '../src/client/npy';
import { CsvFormatError, parseCsv } from '../src/client/csv';

function fixture(name: string): ArrayBuffer {
  const bytes = readFileSync(join(__dirname, 'fixtures', name));
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

describe('parseNpy reads files written by NumPy', () => {
  it('reads little-endian float32 in C order without copying', () => {
    const buffer = fixture('f4_c_3x2.npy');
    const npy = parseNpy(buffer);
    expect(npy.dtype).toBe('<f4');
    expect(npy.shape).toEqual([3, 2]);
    expect(npy.data).toBeInstanceOf(Float32Array);
    expect(npy.data.buffer).toBe(buffer);
    expect(Array.from(npy.data as Float32Array)).toEqual([1.5, -2, 3, 4.25, 0, 7]);
  });

  it('turns Fortran-order float64 into a row-major float32 matrix', () => {
    const m = matrixFromNpy(fixture('f8_fortran_2x3.npy'));
    expect([m.rows, m.cols]).toEqual([2, 3]);
    expect(Array.from(m.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('reads big-endian data and version 2 headers', () => {
    expect(Array.from(matrixFromNpy(fixture('f4_bigendian_2x2.npy')).data)).toEqual([1, 2, 3, 4]);
    expect(Array.from(matrixFromNpy(fixture('f4_v2_2x2.npy')).data)).toEqual([0.5, 1, 2, 3]);
  });

  it('reads int64 labels as Int32Array', () => {
    const labels = labelsFromNpy(fixture('i8_labels.npy'));
    expect(labels).toBeInstanceOf(Int32Array);
    expect(Array.from(labels)).toEqual([0, 1, -1, 7]);
  });

  it('refuses pickled object arrays and foreign bytes, saying what it found', () => {
    expect(() => parseNpy(fixture('object.npy'))).toThrow(/expected a numeric dtype.*"\|O"/);
    expect(() => parseNpy(new TextEncoder().encode('a,b\n1,2\n').buffer as ArrayBuffer)).toThrow(NpyFormatError);
  });

  it('writes what it reads, with the data 64-byte aligned', () => {
    const values = Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 1);
    const buffer = writeNpy(values, [4, 3]);
    const npy = parseNpy(buffer);
    expect(npy.shape).toEqual([4, 3]);
    expect((buffer.byteLength - values.byteLength) % 64).toBe(0);
    expect(Array.from(npy.data as Float32Array)).toEqual(Array.from(values));
    expect(Array.from(labelsFromNpy(writeNpy(Int32Array.of(3, -1), [2])))).toEqual([3, -1]);
    expect(() => writeNpy(values, [5, 3])).toThrow(/holds 15 values; the array has 12/);
  });
});

describe('parseCsv', () => {
  it('skips a header line and reads rows of numbers', () => {
    const m = parseCsv('a,b,c\n1,2,3\n4.5,-5,6e1\n\n');
    expect([m.rows, m.cols]).toEqual([2, 3]);
    expect(Array.from(m.data)).toEqual([1, 2, 3, 4.5, -5, 60]);
  });

  it('says which line is ragged or not numeric', () => {
    expect(() => parseCsv('1,2\n3\n')).toThrow(/expected 2 values per line; line 2 has 1/);
    expect(() => parseCsv('1,2\n3,x\n')).toThrow(CsvFormatError);
  });
});

describe('appendRows', () => {
  it('puts the second matrix\'s rows after the first\'s, and refuses another width', () => {
    const a = { data: Float32Array.from([1, 2, 3, 4]), rows: 2, cols: 2 };
    const joined = appendRows(a, { data: Float32Array.from([5, 6]), rows: 1, cols: 2 });
    expect([joined.rows, joined.cols, Array.from(joined.data)]).toEqual([3, 2, [1, 2, 3, 4, 5, 6]]);
    expect(() => appendRows(a, { data: new Float32Array(3), rows: 1, cols: 3 })).toThrow('expected 2 columns to append; found 3');
  });
});
