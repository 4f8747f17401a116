/**
 * Collects one experiment's runs into the `llc_runs` table (SPEC §8): exactly the runs of the
 * experiment file as it is now, one row each, as Parquet and Arrow IPC.
 */
import { join } from 'node:path';
import { writeDirAtomic } from '../packages/llc/src/atomic';
import { artifactPath } from '../packages/llc/src/artifacts';
import { readAnalysis, readTiming } from '../packages/llc/src/run-artifact';
import { canonicalJson } from '../packages/llc/src/canonical';
import { Columns, writeArrowFile, writeParquetFile } from '../packages/llc/src/tables';
import { checkFiles, Rule } from './rule';

export interface AggregateSpec {
  experiment: string;
  runs: { id: string; target: string; sampler: string }[];
}

/** The llc_runs columns, in order, with how each is read from a run's analysis.json. */
const COLUMNS: [string, 'string' | 'int' | 'float', (a: any) => unknown][] = [
  ['run_id', 'string', (a) => a.run_id],
  ['target_id', 'string', (a) => a.target_id],
  ['sampler', 'string', (a) => a.sampler],
  ['seed', 'int', (a) => a.seed],
  ['chains', 'int', (a) => a.llc.chains],
  ['draws', 'int', (a) => a.llc.draws],
  ['dtype', 'string', (a) => a.dtype],
  ['options', 'string', (a) => canonicalJson(a.options)],
  ['n', 'int', (a) => a.temperature.n],
  ['d', 'int', (a) => a.d],
  ['beta', 'float', (a) => a.temperature.beta],
  ['n_beta', 'float', (a) => a.temperature.n_beta],
  ['gamma', 'float', (a) => a.temperature.gamma],
  ['L0', 'float', (a) => a.L0],
  ['llc_mean', 'float', (a) => a.llc.mean],
  ['llc_std', 'float', (a) => a.llc.std],
  ['llc_min', 'float', (a) => a.llc.min],
  ['llc_max', 'float', (a) => a.llc.max],
  ['llc_mcse', 'float', (a) => a.llc.mcse],
  ['ess_bulk', 'float', (a) => a.llc.ess_bulk],
  ['ess_tail', 'float', (a) => a.llc.ess_tail],
  ['r_hat', 'float', (a) => a.llc.r_hat],
  ['llc_chain_min', 'float', (a) => Math.min(...a.llc.per_chain)],
  ['llc_chain_max', 'float', (a) => Math.max(...a.llc.per_chain)],
  ['fge_per_chain', 'float', (a) => a.work.fge_warmup + a.work.fge_sampling],
  ['grad_evals', 'float', (a) => a.work.grad_evals],
  ['wall_time_s', 'float', (a) => a.timing.total_s],
  ['threads', 'int', (a) => a.timing.threads],
  ['kernel', 'string', (a) => a.kernel],
];

export const aggregateRule: Rule<AggregateSpec> = {
  name: 'aggregate',
  codeEntryPoints: () => [__filename],
  outputs: (spec) => [artifactPath.experiment(spec.experiment)],
  verify: (spec, root) => checkFiles(root, artifactPath.experiment(spec.experiment), ['llc_runs.parquet', 'llc_runs.arrow']),

  async run(spec, ctx) {
    // Each row joins a run's analysis with its timing, which is kept apart because it is not reproducible.
    const analyses = spec.runs.map((r) => {
      const dir = join(ctx.root, artifactPath.run(r.id));
      return { ...readAnalysis(dir), timing: readTiming(dir) };
    });
    const columns: Columns = { experiment: spec.runs.map(() => spec.experiment) };
    for (const [name, type, read] of COLUMNS) {
      const values = analyses.map(read);
      // A statistic that is undefined for a run (too few draws for an ESS, say) is null in the JSON and in the table.
      columns[name] = type === 'string' ? values.map(String) : type === 'int' ? Int32Array.from(values as number[]) : values.map((v) => (typeof v === 'number' ? v : null));
    }
    await writeDirAtomic(join(ctx.root, artifactPath.experiment(spec.experiment)), (tmp) => {
      writeParquetFile(join(tmp, 'llc_runs.parquet'), columns);
      writeArrowFile(join(tmp, 'llc_runs.arrow'), columns);
    });
    ctx.log(`llc_runs: ${analyses.length} runs of experiment ${spec.experiment}`);
    const show = (x: number | null, digits: number) => (x === null ? 'n/a' : x.toPrecision(digits));
    for (const a of analyses as any[]) ctx.log(`  ${a.run_id}  ${a.target_id}  λ̂ = ${show(a.llc.mean, 5)} ± ${show(a.llc.mcse, 2)} (MCSE)  R̂ ${show(a.llc.r_hat, 4)}`);
  },
};
