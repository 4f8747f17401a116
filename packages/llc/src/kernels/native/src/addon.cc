// The N-API face of the native kernel (packages/llc/src/kernels/native/kernel.ts is its only
// caller). Typed arrays are used in place, never copied; every argument is checked, and a mismatch
// throws a JavaScript TypeError or RangeError instead of touching memory it should not.
//
// The addon keeps no global state of its own, so it loads in any number of worker threads. OpenBLAS
// is set to one thread per product (a process-wide setting): a kernel's threads are its own.
#include <napi.h>

#include <string>

#include "blas.h"
#include "kernel.h"
#include "noise.h"
#include "peak.h"

namespace {

template <typename T>
constexpr napi_typedarray_type typeOf();
template <>
constexpr napi_typedarray_type typeOf<float>() { return napi_float32_array; }
template <>
constexpr napi_typedarray_type typeOf<double>() { return napi_float64_array; }
template <>
constexpr napi_typedarray_type typeOf<int32_t>() { return napi_int32_array; }

const char* typeName(napi_typedarray_type t) {
  switch (t) {
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_int32_array: return "Int32Array";
    default: return "another typed array";
  }
}

// The data of a typed array of `type` with at least `length` elements, or a thrown TypeError.
void* arrayData(const Napi::Value& value, napi_typedarray_type type, size_t length, const char* what) {
  Napi::Env env = value.Env();
  if (!value.IsTypedArray()) throw Napi::TypeError::New(env, std::string(what) + " must be a " + typeName(type));
  Napi::TypedArray array = value.As<Napi::TypedArray>();
  if (array.TypedArrayType() != type) throw Napi::TypeError::New(env, std::string(what) + " must be a " + typeName(type) + ", got " + typeName(array.TypedArrayType()));
  if (array.ElementLength() < length)
    throw Napi::RangeError::New(env, std::string(what) + " has " + std::to_string(array.ElementLength()) + " elements, fewer than the " + std::to_string(length) + " needed");
  return static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
}

int64_t integer(const Napi::Value& value, const char* what, int64_t min, int64_t max) {
  Napi::Env env = value.Env();
  if (!value.IsNumber()) throw Napi::TypeError::New(env, std::string(what) + " must be a number");
  const double x = value.As<Napi::Number>().DoubleValue();
  if (!(x >= static_cast<double>(min) && x <= static_cast<double>(max)) || x != static_cast<double>(static_cast<int64_t>(x)))
    throw Napi::RangeError::New(env, std::string(what) + " must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return static_cast<int64_t>(x);
}

constexpr int64_t INT32_LIMIT = 2147483647;

class KernelWrap : public Napi::ObjectWrap<KernelWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Kernel",
                       {InstanceMethod("loss", &KernelWrap::Loss), InstanceMethod("lossGrad", &KernelWrap::LossGrad), InstanceMethod("sgldStep", &KernelWrap::SgldStep),
                        InstanceMethod("dispose", &KernelWrap::Dispose)});
  }

  // new Kernel({ float32, layers: Int32Array(8 per layer), inDim, outDim, d, activation, loss, df,
  //              scale, X: Float64Array, Y: Float64Array, n, chains, maxBatch, threads })
  explicit KernelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<KernelWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "new Kernel(spec): spec must be an object");
    Napi::Object spec = info[0].As<Napi::Object>();
    float32_ = spec.Get("float32").ToBoolean();
    lh::Arch arch;
    arch.inDim = static_cast<int32_t>(integer(spec.Get("inDim"), "inDim", 1, INT32_LIMIT));
    arch.outDim = static_cast<int32_t>(integer(spec.Get("outDim"), "outDim", 1, INT32_LIMIT));
    arch.d = static_cast<int32_t>(integer(spec.Get("d"), "d", 1, INT32_LIMIT));
    arch.activation = static_cast<lh::Activation>(integer(spec.Get("activation"), "activation", 0, 3));
    arch.loss = static_cast<lh::LossKind>(integer(spec.Get("loss"), "loss", 0, 1));
    arch.df = spec.Get("df").ToNumber().DoubleValue();
    arch.scale = spec.Get("scale").ToNumber().DoubleValue();
    Napi::Value layers = spec.Get("layers");
    if (!layers.IsTypedArray()) throw Napi::TypeError::New(env, "layers must be an Int32Array");
    const size_t words = layers.As<Napi::TypedArray>().ElementLength();
    if (words == 0 || words % 8 != 0) throw Napi::RangeError::New(env, "layers must hold 8 words per layer");
    const int32_t* table = static_cast<const int32_t*>(arrayData(layers, napi_int32_array, words, "layers"));
    for (size_t i = 0; i < words; i += 8) {
      lh::Layer l{table[i], table[i + 1], table[i + 2], table[i + 3], table[i + 4], table[i + 5], table[i + 6] != 0, table[i + 7] != 0};
      const bool fits = l.in > 0 && l.out > 0 && l.w >= 0 && static_cast<int64_t>(l.w) + static_cast<int64_t>(l.in) * l.out <= arch.d &&
                        l.b < arch.d - l.out + 1 && l.lnGain < arch.d - l.out + 1 && l.lnBias < arch.d - l.out + 1;
      if (!fits) throw Napi::RangeError::New(env, "layer " + std::to_string(i / 8) + " does not fit in d = " + std::to_string(arch.d) + " parameters");
      arch.layers.push_back(l);
    }
    n_ = integer(spec.Get("n"), "n", 1, INT32_LIMIT);
    chains_ = static_cast<int32_t>(integer(spec.Get("chains"), "chains", 1, 1 << 20));
    maxBatch_ = static_cast<int32_t>(integer(spec.Get("maxBatch"), "maxBatch", 0, INT32_LIMIT));
    const double* X = static_cast<const double*>(arrayData(spec.Get("X"), napi_float64_array, static_cast<size_t>(n_) * arch.inDim, "X"));
    const double* Y = static_cast<const double*>(arrayData(spec.Get("Y"), napi_float64_array, static_cast<size_t>(n_) * arch.outDim, "Y"));
    const int32_t threads = static_cast<int32_t>(integer(spec.Get("threads"), "threads", 1, 1024));
    d_ = arch.d;
    // The kernel's own threads split the work (pool.h); OpenBLAS runs each product on the calling thread.
    lh::setBlasThreads(1);
    kernel_ = lh::makeKernel(float32_, arch, X, Y, n_, chains_, maxBatch_, threads);
  }

 private:
  napi_typedarray_type floatType() const { return float32_ ? napi_float32_array : napi_float64_array; }
  size_t all() const { return static_cast<size_t>(chains_) * d_; }

  // Row indices: `batch` per chain (at most the kernel's largest minibatch), each in [0, n).
  const int32_t* rowsOf(const Napi::Value& value, int32_t batch) {
    if (batch > maxBatch_)
      throw Napi::RangeError::New(value.Env(), "a minibatch of " + std::to_string(batch) + " rows exceeds the " + std::to_string(maxBatch_) + " this kernel was made for");
    const int32_t* rows = static_cast<const int32_t*>(arrayData(value, napi_int32_array, static_cast<size_t>(chains_) * batch, "rows"));
    for (size_t i = 0; i < static_cast<size_t>(chains_) * batch; i++)
      if (rows[i] < 0 || rows[i] >= n_) throw Napi::RangeError::New(value.Env(), "row index " + std::to_string(rows[i]) + " is outside [0, " + std::to_string(n_) + ")");
    return rows;
  }

  lh::Kernel& kernel(const Napi::Env& env) {
    if (!kernel_) throw Napi::Error::New(env, "the kernel was disposed");
    return *kernel_;
  }

  // dispose(): stops the kernel's threads and frees its memory now rather than at garbage collection.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    kernel_.reset();
    return info.Env().Undefined();
  }

  // loss(positions, out)
  Napi::Value Loss(const Napi::CallbackInfo& info) {
    const void* positions = arrayData(info[0], floatType(), all(), "positions");
    double* out = static_cast<double*>(arrayData(info[1], napi_float64_array, chains_, "out"));
    kernel(info.Env()).loss(positions, out);
    return info.Env().Undefined();
  }

  // lossGrad(positions, rows | null, batch, grad, out)
  Napi::Value LossGrad(const Napi::CallbackInfo& info) {
    const void* positions = arrayData(info[0], floatType(), all(), "positions");
    const bool full = info[1].IsNull();
    const int32_t batch = full ? 0 : static_cast<int32_t>(integer(info[2], "batch", 1, INT32_LIMIT));
    const int32_t* rows = full ? nullptr : rowsOf(info[1], batch);
    void* grad = arrayData(info[3], floatType(), all(), "grad");
    double* out = static_cast<double*>(arrayData(info[4], napi_float64_array, chains_, "out"));
    kernel(info.Env()).lossGrad(positions, rows, batch, grad, out);
    return info.Env().Undefined();
  }

  // sgldStep(w, grad, m, v, center, rows, batch, out, settings: Float64Array(9), keyHi, keyLo)
  Napi::Value SgldStep(const Napi::CallbackInfo& info) {
    const napi_typedarray_type t = floatType();
    void* w = arrayData(info[0], t, all(), "w");
    void* grad = arrayData(info[1], t, all(), "grad");
    void* m = arrayData(info[2], t, all(), "m");
    void* v = arrayData(info[3], t, all(), "v");
    const void* center = arrayData(info[4], t, d_, "center");
    const int32_t batch = static_cast<int32_t>(integer(info[6], "batch", 1, INT32_LIMIT));
    const int32_t* rows = rowsOf(info[5], batch);
    double* out = static_cast<double*>(arrayData(info[7], napi_float64_array, chains_, "out"));
    const double* s = static_cast<const double*>(arrayData(info[8], napi_float64_array, 9, "settings"));
    const lh::SgldStep step{s[0], s[1], s[2], static_cast<int32_t>(s[3]), s[4], s[5], s[6], s[7], s[8],
                            static_cast<uint32_t>(integer(info[9], "keyHi", 0, 0xffffffffLL)), static_cast<uint32_t>(integer(info[10], "keyLo", 0, 0xffffffffLL))};
    if (step.precond < 0 || step.precond > 2) throw Napi::RangeError::New(info.Env(), "precond must be 0, 1 or 2");
    kernel(info.Env()).sgldStep(w, grad, m, v, center, rows, batch, out, step);
    return info.Env().Undefined();
  }

  bool float32_ = false;
  int64_t n_ = 0;
  int32_t chains_ = 0;
  int32_t d_ = 0;
  int32_t maxBatch_ = 0;
  std::unique_ptr<lh::Kernel> kernel_;
};

// normals(keyHi, keyLo, start, out): elements [start, start + out.length) of the stream, in the
// precision of `out` (Float32Array: the vectorised f32 generator; Float64Array: the exact stream).
Napi::Value Normals(const Napi::CallbackInfo& info) {
  const uint32_t hi = static_cast<uint32_t>(integer(info[0], "keyHi", 0, 0xffffffffLL));
  const uint32_t lo = static_cast<uint32_t>(integer(info[1], "keyLo", 0, 0xffffffffLL));
  const uint64_t start = static_cast<uint64_t>(integer(info[2], "start", 0, (int64_t{1} << 53)));
  if (!info[3].IsTypedArray()) throw Napi::TypeError::New(info.Env(), "out must be a Float32Array or Float64Array");
  Napi::TypedArray out = info[3].As<Napi::TypedArray>();
  const int64_t count = static_cast<int64_t>(out.ElementLength());
  if (out.TypedArrayType() == napi_float32_array) lh::normalsF32(hi, lo, start, count, static_cast<float*>(arrayData(out, napi_float32_array, count, "out")));
  else lh::normalsF64(hi, lo, start, count, static_cast<double*>(arrayData(out, napi_float64_array, count, "out")));
  return info.Env().Undefined();
}

Napi::Value Blas(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), lh::blasDescription()); }

Napi::Value Avx2PeakF32(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), lh::avx2PeakF32(info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0.5));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Kernel", KernelWrap::Define(env));
  exports.Set("normals", Napi::Function::New(env, Normals));
  exports.Set("blas", Napi::Function::New(env, Blas));
  exports.Set("avx2PeakF32", Napi::Function::New(env, Avx2PeakF32));
  return exports;
}

}  // namespace

NODE_API_MODULE(lambda_hat_native, Init)
