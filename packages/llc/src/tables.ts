/**
 * Columnar outputs: Arrow IPC files (apache-arrow) and Parquet (parquet-wasm, the Rust arrow-rs
 * writer compiled to WebAssembly). Both are written atomically.
 */
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { Compression, Table as WasmTable, writeParquet, WriterPropertiesBuilder } from 'parquet-wasm';
import { writeFileAtomic } from './atomic';

/** Column name → values: typed arrays for numbers, string arrays, or (number | null)[] for nullable floats. */
export type Columns = Record<string, Float64Array | Int32Array | string[] | (number | null)[]>;

function arrowTable(columns: Columns) {
  return tableFromArrays(columns as Parameters<typeof tableFromArrays>[0]);
}

export function writeArrowFile(path: string, columns: Columns): void {
  writeFileAtomic(path, tableToIPC(arrowTable(columns), 'file'));
}

export function writeParquetFile(path: string, columns: Columns): void {
  const wasmTable = WasmTable.fromIPCStream(tableToIPC(arrowTable(columns), 'stream'));
  const props = new WriterPropertiesBuilder().setCompression(Compression.SNAPPY).setCreatedBy('lambda-hat').build();
  writeFileAtomic(path, writeParquet(wasmTable, props));
}
