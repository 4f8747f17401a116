/**
 * Stage A (docs/mathematics.md, "Stage A"): draw the teacher and the data from the seed, train the student, and measure
 * it. Pure: the rule that calls this does the writing.
 */
import { BuildSpec, lossFnFor } from './config';
import { initTeacher, sampleDataset, teacherOutputs } from './data';
import type { KernelProblem, LossKernel, NumericIdentity } from './kernels/types';
import { initParams, layout, MlpEvaluator } from './mlp';
import { fold, keyFromSeed } from './rng';
import { train } from './train';

/** Key tags under a target's seed. Fixed forever: changing one changes every artifact. */
const TARGET_KEY = { teacher: 1, train: 2, test: 3, student: 4 } as const;

export interface BuiltTarget {
  params: Float64Array;
  teacherParams: Float64Array;
  X: Float64Array;
  Y: Float64Array;
  Xtest: Float64Array;
  Ytest: Float64Array;
  L0: number;
  /** The kernel that computed the training gradients, and how it rounds. */
  kernel: string;
  kernelIdentity: NumericIdentity;
  losses: Float64Array;
  stoppedEarly: boolean;
  metrics: { train_mse_noise: number; test_mse_noise: number | null; train_mse_teacher: number; test_mse_teacher: number | null };
}

function mse(a: Float64Array | Float32Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i++) s += (a[i] - b[i]) ** 2;
  return s / b.length;
}

export function buildTarget(build: BuildSpec, makeKernel: (problem: KernelProblem) => LossKernel, onProgress?: (step: number, loss: number) => void): BuiltTarget {
  const key = keyFromSeed(build.seed);
  const { model, teacher, data } = build;
  const teacherParams = initTeacher(teacher, fold(key, TARGET_KEY.teacher));
  const trainSet = sampleDataset(data, teacher, teacherParams, data.n_data, fold(key, TARGET_KEY.train));
  const testSet = sampleDataset(data, teacher, teacherParams, data.n_test, fold(key, TARGET_KEY.test));
  const init = initParams(model, fold(key, TARGET_KEY.student), new Float64Array(layout(model).d)) as Float64Array;
  const lossFn = lossFnFor(build);
  const kernel = makeKernel({ arch: model, X: trainSet.X, Y: trainSet.Y, n: data.n_data, lossFn, dtype: 'float64', chains: 1, maxBatch: 0 });
  let result: ReturnType<typeof train>;
  try {
    result = train(kernel, init, build.training, onProgress);
  } finally {
    kernel.dispose();
  }

  const ev = new MlpEvaluator(model, Math.max(data.n_data, data.n_test));
  const L0 = ev.loss(result.params, 0, trainSet.X, trainSet.Y, null, data.n_data, lossFn);
  const predTrain = Float64Array.from(ev.forward(result.params, 0, trainSet.X, null, data.n_data));
  const predTest = data.n_test > 0 ? Float64Array.from(ev.forward(result.params, 0, testSet.X, null, data.n_test)) : null;
  return {
    params: result.params,
    teacherParams,
    X: trainSet.X,
    Y: trainSet.Y,
    Xtest: testSet.X,
    Ytest: testSet.Y,
    L0,
    kernel: kernel.name,
    kernelIdentity: kernel.identity,
    losses: result.losses,
    stoppedEarly: result.stoppedEarly,
    metrics: {
      train_mse_noise: mse(predTrain, trainSet.Y),
      test_mse_noise: predTest ? mse(predTest, testSet.Y) : null,
      train_mse_teacher: mse(predTrain, trainSet.teacherY),
      test_mse_teacher: predTest ? mse(predTest, testSet.teacherY) : null,
    },
  };
}

/** Student and teacher outputs on the same inputs (rows × out_dim, flattened): how well the student learnt. */
export interface FitOnInputs {
  student: Float64Array;
  teacher: Float64Array;
}

/** The trained student against its teacher on the training and the test inputs. */
export function studentVersusTeacher(build: BuildSpec, params: Float64Array, teacherParams: Float64Array, X: Float64Array, Xtest: Float64Array): { train: FitOnInputs; test: FitOnInputs } {
  const fit = (inputs: Float64Array): FitOnInputs => {
    const rows = inputs.length / build.model.in_dim;
    if (rows === 0) return { student: new Float64Array(0), teacher: new Float64Array(0) };
    const student = Float64Array.from(new MlpEvaluator(build.model, rows).forward(params, 0, inputs, null, rows));
    return { student, teacher: teacherOutputs(build.teacher, teacherParams, inputs, rows) };
  };
  return { train: fit(X), test: fit(Xtest) };
}
