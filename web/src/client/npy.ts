/**
 * A small reader and writer for NumPy's `.npy` format (versions 1.0, 2.0 and 3.0).
 *
 * The reader returns a typed array that views the buffer without a copy when the
 * dtype is little-endian and the data offset is aligned (NumPy pads the header to
 * 64 bytes, so it usually is). Object arrays (pickles) are refused.
 */

export type NpyArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export interface Npy {
  /** The dtype descriptor as written in the header, e.g. `<f4`. */
  dtype: string;
  shape: number[];
  fortranOrder: boolean;
  data: NpyArray;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

interface Kind {
  bytes: number;
  make: (buffer: ArrayBuffer, offset: number, length: number) => NpyArray;
  read: (view: DataView, offset: number, little: boolean) => number | bigint;
}

const KINDS: Record<string, Kind> = {
  f4: { bytes: 4, make: (b, o, n) => new Float32Array(b, o, n), read: (v, o, l) => v.getFloat32(o, l) },
  f8: { bytes: 8, make: (b, o, n) => new Float64Array(b, o, n), read: (v, o, l) => v.getFloat64(o, l) },
  i1: { bytes: 1, make: (b, o, n) => new Int8Array(b, o, n), read: (v, o) => v.getInt8(o) },
  u1: { bytes: 1, make: (b, o, n) => new Uint8Array(b, o, n), read: (v, o) => v.getUint8(o) },
  b1: { bytes: 1, make: (b, o, n) => new Uint8Array(b, o, n), read: (v, o) => v.getUint8(o) },
  i2: { bytes: 2, make: (b, o, n) => new Int16Array(b, o, n), read: (v, o, l) => v.getInt16(o, l) },
  u2: { bytes: 2, make: (b, o, n) => new Uint16Array(b, o, n), read: (v, o, l) => v.getUint16(o, l) },
  i4: { bytes: 4, make: (b, o, n) => new Int32Array(b, o, n), read: (v, o, l) => v.getInt32(o, l) },
  u4: { bytes: 4, make: (b, o, n) => new Uint32Array(b, o, n), read: (v, o, l) => v.getUint32(o, l) },
  i8: { bytes: 8, make: (b, o, n) => new BigInt64Array(b, o, n), read: (v, o, l) => v.getBigInt64(o, l) },
  u8: { bytes: 8, make: (b, o, n) => new BigUint64Array(b, o, n), read: (v, o, l) => v.getBigUint64(o, l) },
};

export class NpyFormatError extends Error {
  override name = 'NpyFormatError';
}

function headerText(bytes: Uint8Array): { text: string; dataOffset: number } {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new NpyFormatError('expected a .npy file starting with \\x93NUMPY; found other bytes');
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let length: number;
  let start: number;
  if (major === 1) {
    length = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    length = view.getUint32(8, true);
    start = 12;
  } else {
    throw new NpyFormatError(`expected .npy format version 1, 2 or 3; found version ${major}`);
  }
  if (start + length > bytes.length) {
    throw new NpyFormatError(`the .npy header says ${length} bytes but the file has only ${bytes.length - start}`);
  }
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + length));
  return { text, dataOffset: start + length };
}

function parseHeader(text: string): { descr: string; fortranOrder: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new NpyFormatError(`expected a header with descr, fortran_order and shape; found ${text.trim()}`);
  }
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (shape.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new NpyFormatError(`expected a shape of non-negative integers; found (${shapeText})`);
  }
  return { descr, fortranOrder: fortran === 'True', shape };
}

/** Parses a `.npy` buffer; the result may view `buffer` without copying. */
export function parseNpy(buffer: ArrayBuffer): Npy {
  const bytes = new Uint8Array(buffer);
  const { text, dataOffset } = headerText(bytes);
  const { descr, fortranOrder, shape } = parseHeader(text);
  const order = descr[0];
  const kind = KINDS[descr.slice(1)];
  if (kind === undefined || !'<>|='.includes(order)) {
    throw new NpyFormatError(
      `expected a numeric dtype (${Object.keys(KINDS).join(', ')}); found ${JSON.stringify(descr)}`,
    );
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const needed = dataOffset + count * kind.bytes;
  if (needed > buffer.byteLength) {
    throw new NpyFormatError(`shape (${shape.join(', ')}) needs ${needed} bytes; the file has ${buffer.byteLength}`);
  }
  const little = order !== '>';
  let data: NpyArray;
  if (little && dataOffset % kind.bytes === 0) {
    data = kind.make(buffer, dataOffset, count);
  } else {
    data = kind.make(new ArrayBuffer(count * kind.bytes), 0, count);
    const view = new DataView(buffer, dataOffset);
    for (let i = 0; i < count; i++) {
      (data as unknown as (number | bigint)[])[i] = kind.read(view, i * kind.bytes, little);
    }
  }
  return { dtype: descr, shape, fortranOrder, data };
}

/** Writes a C-order little-endian `.npy` (version 1.0) holding a Float32Array or Int32Array. */
export function writeNpy(data: Float32Array | Int32Array, shape: readonly number[]): ArrayBuffer {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new NpyFormatError(`shape (${shape.join(', ')}) holds ${count} values; the array has ${data.length}`);
  }
  const descr = data instanceof Float32Array ? '<f4' : '<i4';
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out.buffer;
}
