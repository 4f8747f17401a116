/**
 * Tabular outputs: Arrow IPC files (apache-arrow), Parquet (parquet-wasm, the Rust arrow-rs writer
 * compiled to WebAssembly) and CSV (RFC 4180). All are written atomically.
 */
import { Float64, makeVector, Table, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
import { Compression, Table as WasmTable, writeParquet, WriterPropertiesBuilder } from 'parquet-wasm';
import { writeFileAtomic } from './atomic';

/**
 * Column name → values: typed arrays (Float64, Int32) for numbers without gaps, and plain arrays of
 * strings or of floats, either of which may hold nulls for missing values (never NaN).
 */
export type Columns = Record<string, Float64Array | Int32Array | (string | null)[] | (number | null)[]>;

const isStringColumn = (values: readonly unknown[]) => typeof values.find((v) => v !== null) === 'string';

function arrowTable(columns: Columns): Table {
  // Plain arrays get explicit types: inference would make strings dictionaries and an all-null column typeless.
  const vectors = Object.fromEntries(
    Object.entries(columns).map(([name, values]) => [
      name,
      ArrayBuffer.isView(values) ? makeVector(values) : isStringColumn(values) ? vectorFromArray(values as (string | null)[], new Utf8()) : vectorFromArray(values as (number | null)[], new Float64()),
    ]),
  );
  return new Table(vectors);
}

export function writeArrowFile(path: string, columns: Columns): void {
  writeFileAtomic(path, tableToIPC(arrowTable(columns), 'file'));
}

export function writeParquetFile(path: string, columns: Columns): void {
  const wasmTable = WasmTable.fromIPCStream(tableToIPC(arrowTable(columns), 'stream'));
  const props = new WriterPropertiesBuilder().setCompression(Compression.SNAPPY).setCreatedBy('lambda-hat').build();
  writeFileAtomic(path, writeParquet(wasmTable, props));
}

/**
 * RFC 4180 CSV with a header row: numbers in JavaScript's shortest round-trip form (so a reader
 * gets back the same float64), null as an empty field, fields quoted only when they need it.
 */
export function writeCsvFile(path: string, columns: Columns): void {
  const names = Object.keys(columns);
  const rows = names.length ? columns[names[0]].length : 0;
  const field = (v: string | number | null) => {
    if (v === null) return '';
    const text = String(v);
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const lines = [names.map(field).join(',')];
  for (let i = 0; i < rows; i++) lines.push(names.map((name) => field(columns[name][i])).join(','));
  writeFileAtomic(path, lines.join('\r\n') + '\r\n');
}
