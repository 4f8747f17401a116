// Declarations every shader module shares: the loader (gpu-kernel.ts) puts this file in front of
// each one. What a module does not use costs nothing.

// One SGLD step's settings and its slice of the minibatch rows, copied into a uniform buffer before
// the step's dispatches (the gather and the update read it).
struct Step {
  rowsOffset: u32, keyHi: u32, keyLo: u32, precond: u32,
  stepSize: f32, nBeta: f32, gamma: f32, beta1: f32,
  beta2: f32, eps: f32, bias1: f32, bias2: f32,
}

const GELU_C: f32 = 0.7978845608028654; // √(2/π)

// tanh without the overflow of sinh/cosh for large |x| (tanh(±9) already rounds to ±1 in f32).
fn tanhSafe(x: f32) -> f32 {
  return select(tanh(x), sign(x), abs(x) > 9.0);
}

// Activation codes as the kernels' layer tables have them: 0 relu, 1 tanh, 2 gelu, 3 identity.
fn activate(kind: u32, x: f32) -> f32 {
  switch kind {
    case 0u: { return select(0.0, x, x > 0.0); }
    case 1u: { return tanhSafe(x); }
    case 2u: { return 0.5 * x * (1.0 + tanhSafe(GELU_C * (x + 0.044715 * x * x * x))); }
    default: { return x; }
  }
}
