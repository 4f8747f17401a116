/**
 * Tabular outputs: Arrow IPC files (apache-arrow), Parquet (parquet-wasm, the Rust arrow-rs writer
 * compiled to WebAssembly) and CSV (RFC 4180). All are written atomically: whole, from columns in
 * memory, or batch by batch (`writeTableInBatches`) for tables too long to hold at once.
 */
import { openAsBlob } from 'node:fs';
import { Float64, makeVector, RecordBatchFileWriter, Table, tableToIPC, Utf8, Vector, vectorFromArray } from 'apache-arrow';
import { Compression, ParquetFile, RecordBatch as WasmRecordBatch, Table as WasmTable, transformParquetStream, writeParquet, WriterProperties, WriterPropertiesBuilder } from 'parquet-wasm';
import { AtomicFile, writeFileAtomic } from './atomic';

/**
 * Column name → values: typed arrays (Float64, Int32) for numbers without gaps, and plain arrays of
 * strings or of floats, either of which may hold nulls for missing values (never NaN).
 */
export type Columns = Record<string, Float64Array | Int32Array | (string | null)[] | (number | null)[]>;

/** How a column is stored: `int` as Int32 without nulls, `float` as Float64 with nulls, `string` as UTF-8. */
export type ColumnType = 'string' | 'int' | 'float';

export interface ColumnSchema {
  name: string;
  type: ColumnType;
}

type Values = Columns[string];

const isStringColumn = (values: readonly unknown[]) => typeof values.find((v) => v !== null) === 'string';

function vector(values: Values, type: ColumnType): Vector {
  if (type === 'int') return makeVector(values instanceof Int32Array ? values : Int32Array.from(values as number[]));
  if (values instanceof Float64Array) return makeVector(values);
  // Plain arrays get explicit types: inference would make strings dictionaries and an all-null column typeless.
  return type === 'string' ? vectorFromArray(values as (string | null)[], new Utf8()) : vectorFromArray(values as (number | null)[], new Float64());
}

/** The type a column's values call for, where no schema says. */
function typeOf(values: Values): ColumnType {
  if (values instanceof Int32Array) return 'int';
  return !ArrayBuffer.isView(values) && isStringColumn(values) ? 'string' : 'float';
}

function arrowTable(columns: Columns, schema: ColumnSchema[] = Object.entries(columns).map(([name, values]) => ({ name, type: typeOf(values) }))): Table {
  return new Table(Object.fromEntries(schema.map((c) => [c.name, vector(columns[c.name], c.type)])));
}

function parquetProperties(rowsPerGroup?: number): WriterProperties {
  const builder = new WriterPropertiesBuilder().setCompression(Compression.SNAPPY).setCreatedBy('lambda-hat');
  return (rowsPerGroup ? builder.setMaxRowGroupSize(rowsPerGroup) : builder).build();
}

export function writeArrowFile(path: string, columns: Columns): void {
  writeFileAtomic(path, tableToIPC(arrowTable(columns), 'file'));
}

export function writeParquetFile(path: string, columns: Columns): void {
  const wasmTable = WasmTable.fromIPCStream(tableToIPC(arrowTable(columns), 'stream'));
  writeFileAtomic(path, writeParquet(wasmTable, parquetProperties()));
}

/**
 * RFC 4180 CSV with a header row: numbers in JavaScript's shortest round-trip form (so a reader
 * gets back the same float64), null as an empty field, fields quoted only when they need it.
 */
function csvLines(columns: Columns, names: string[]): string {
  const rows = names.length ? columns[names[0]].length : 0;
  let text = '';
  for (let i = 0; i < rows; i++) text += names.map((name) => csvField(columns[name][i])).join(',') + '\r\n';
  return text;
}

function csvField(v: string | number | null): string {
  if (v === null) return '';
  const text = String(v);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const csvHeader = (names: string[]) => names.map(csvField).join(',') + '\r\n';

/** Where a table goes, by format; a format left out is not written. */
export interface TableFiles {
  parquet?: string;
  arrow?: string;
  csv?: string;
}

/** One file of a table being written batch by batch, under its temporary name until every file is complete. */
interface TableSink {
  file: AtomicFile;
  write(table: Table, columns: Columns): Promise<void>;
  /** Resolves when the file is complete and checked; the file is not yet in place. */
  finish(): Promise<void>;
  /** Stops the encoder, which may throw if it has failed or finished already; the caller removes the file. */
  stop(): void;
}

/** Lets the encoders' queued output reach its file before the next batch is made. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function csvSink(file: AtomicFile, names: string[]): TableSink {
  file.write(csvHeader(names));
  return { file, write: async (_, columns) => file.write(csvLines(columns, names)), finish: async () => {}, stop: () => {} };
}

function arrowSink(file: AtomicFile): TableSink {
  const writer = new RecordBatchFileWriter();
  // The writer queues the bytes of each batch; this moves them to the file as they come.
  const drained = (async () => {
    for await (const chunk of writer) file.write(chunk);
  })();
  let failure: unknown;
  drained.catch((e) => (failure = e ?? new Error(`${file.path}: writing failed`)));
  return {
    file,
    async write(table) {
      // Batch by batch: given a whole Table, the writer would end the file after it.
      for (const batch of table.batches) writer.write(batch);
      await nextTurn();
      if (failure) throw failure;
    },
    async finish() {
      writer.finish(); // writes the footer and ends the byte stream
      await drained;
    },
    stop: () => void writer.abort(),
  };
}

/**
 * Parquet through parquet-wasm's stream transform: record batches in, the file's bytes out, one row
 * group per `rowsPerGroup` rows, so only a row group is ever held in WebAssembly memory.
 */
function parquetSink(file: AtomicFile, rowsPerGroup: number): TableSink {
  const input = new TransformStream<WasmRecordBatch, WasmRecordBatch>();
  const batches = input.writable.getWriter();
  let drained: Promise<void> | undefined;
  // If the output stops draining (a full disk), the transform stops reading: wait on that failure too, not only on the input.
  const unlessFailed = <T>(wait: Promise<T>) => (drained ? Promise.race([wait, drained.then(() => wait)]) : wait);
  let rows = 0;
  return {
    file,
    async write(table) {
      const wasmTable = WasmTable.fromIPCStream(tableToIPC(table, 'stream'));
      try {
        for (const batch of wasmTable.recordBatches()) {
          await unlessFailed(batches.ready);
          batches.write(batch).catch(() => {}); // a failure surfaces through `drained` or the row count
          // The transform reads its first batch before it hands back its output, so it starts once one is queued.
          drained ??= transformParquetStream(input.readable, parquetProperties(rowsPerGroup)).then(async (out: ReadableStream<Uint8Array>) => {
            for await (const chunk of out) file.write(chunk);
          });
        }
      } finally {
        wasmTable.free();
      }
      rows += table.numRows;
      await nextTurn();
    },
    async finish() {
      await unlessFailed(batches.close());
      if (!drained) throw new Error(`${file.path}: no record batch was written`);
      await drained;
      file.finish();
      // The transform drops a batch it fails to write without saying so: the footer must count every row.
      const written = await ParquetFile.fromFile(await openAsBlob(file.tempPath));
      try {
        const count = written.metadata().fileMetadata().numRows();
        if (count !== rows) throw new Error(`${file.path}: the Parquet writer wrote ${count} of ${rows} rows`);
      } finally {
        written.free();
      }
    },
    stop: () => void batches.abort().catch(() => {}),
  };
}

/**
 * Writes one table to each of `files`, a batch at a time as `batches` yields them, so that no more
 * than a batch of rows is held. Every batch has `schema`'s columns, in its order and types. The
 * files are moved into place only once all of them are complete; on a failure none is replaced. A
 * table with no rows still gets its header and schema. Returns the number of rows.
 */
export async function writeTableInBatches(files: TableFiles, schema: ColumnSchema[], batches: Iterable<Columns>, rowsPerGroup: number): Promise<number> {
  const names = schema.map((c) => c.name);
  const sinks: TableSink[] = [];
  let rows = 0;
  try {
    if (files.parquet) sinks.push(parquetSink(new AtomicFile(files.parquet), rowsPerGroup));
    if (files.arrow) sinks.push(arrowSink(new AtomicFile(files.arrow)));
    if (files.csv) sinks.push(csvSink(new AtomicFile(files.csv), names));
    let written = 0;
    const write = async (columns: Columns) => {
      const given = Object.keys(columns);
      if (given.length !== names.length || names.some((name) => !(name in columns))) throw new Error(`writeTableInBatches: a batch has columns ${given.join(', ')}, the schema ${names.join(', ')}`);
      const table = arrowTable(columns, schema);
      for (const sink of sinks) await sink.write(table, columns);
      rows += table.numRows;
      written++;
    };
    for (const columns of batches) await write(columns);
    if (written === 0) await write(Object.fromEntries(schema.map((c) => [c.name, c.type === 'int' ? new Int32Array(0) : []])));
    for (const sink of sinks) await sink.finish();
  } catch (e) {
    for (const sink of sinks) {
      try {
        sink.stop();
      } catch {
        // Its encoder had already failed or finished: the failure to report is `e`.
      }
      sink.file.abort();
    }
    throw e;
  }
  commitAll(sinks.map((s) => s.file));
  return rows;
}

function commitAll(files: AtomicFile[]): void {
  files.forEach((file, i) => {
    try {
      file.commit();
    } catch (e) {
      for (const rest of files.slice(i)) rest.abort();
      throw e;
    }
  });
}
