import { readFileSync } from 'node:fs';

/**
 * NumPy `.npy` format version 1.0, little-endian, C order: readable by numpy.load and
 * torch.from_numpy(np.load(...)) without any of our code.
 */
export type NpyArray = Float64Array | Float32Array | Int32Array;

const DESCR: Record<string, string> = { Float64Array: '<f8', Float32Array: '<f4', Int32Array: '<i4' };
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

export function encodeNpy(data: NpyArray, shape: number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`npy shape ${JSON.stringify(shape)} does not match length ${data.length}`);
  const descr = DESCR[data.constructor.name];
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // The header (with magic, version and length) is padded with spaces to a multiple of 64 bytes and ends in '\n'.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}

export function decodeNpy(bytes: Uint8Array): { data: NpyArray; shape: number[] } {
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) throw new Error('not a .npy file');
  const major = bytes[6];
  const headerLen = major === 1 ? bytes[8] | (bytes[9] << 8) : bytes[8] | (bytes[9] << 8) | (bytes[10] << 16) | (bytes[11] << 24);
  const start = major === 1 ? 10 : 12;
  const header = Buffer.from(bytes.subarray(start, start + headerLen)).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new Error(`unreadable .npy header: ${header}`);
  if (fortran === 'True') throw new Error('Fortran-ordered .npy arrays are not supported');
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const offset = start + headerLen;
  // Copy the body: typed arrays need aligned offsets, and a Node Buffer may be a view into a shared pool.
  const body = bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + bytes.byteLength);
  const data =
    descr === '<f8' ? new Float64Array(body) : descr === '<f4' ? new Float32Array(body) : descr === '<i4' ? new Int32Array(body) : null;
  if (!data) throw new Error(`unsupported .npy dtype ${descr}`);
  return { data, shape };
}

export function readNpy(path: string): { data: NpyArray; shape: number[] } {
  return decodeNpy(readFileSync(path));
}
