#include "host/backend/backend.hpp"

#include <string>

#include "host/backend/dispatch.hpp"
#include "host/core/error.hpp"

#ifdef EMBCLUST_HAVE_CUDA
#include "cuda/cuda_backend.hpp"
#endif

namespace emb {

Device parse_device(const std::string& s) {
  if (s == "auto") return Device::Auto;
  if (s == "cpu") return Device::Cpu;
  if (s == "cuda") return Device::Cuda;
  throw UsageError("--device must be auto, cpu or cuda, not '" + s + "'");
}

EncoderPrecision parse_precision(const std::string& s) {
  if (s == "fp16") return EncoderPrecision::Fp16;
  if (s == "fp32") return EncoderPrecision::Fp32;
  throw UsageError("--precision must be fp16 or fp32, not '" + s + "'");
}

std::unique_ptr<Backend> make_backend(const BackendOptions& opts, std::string* notice) {
  if (opts.device != Device::Cpu) {
    std::string why;
#ifdef EMBCLUST_HAVE_CUDA
    if (cuda::device_count(&why) > 0) {
      cuda::CudaOptions co;
      co.encoder_fp16 = opts.precision == EncoderPrecision::Fp16;
      auto gpu = cuda::make_cuda_backend(0, co);
      if (notice) *notice = "using " + gpu->name();
      return std::make_unique<DispatchBackend>(std::move(gpu), make_cpu_backend(opts.threads));
    }
#else
    why = "this build of embclust has no CUDA backend";
#endif
    if (opts.device == Device::Cuda)
      throw RuntimeError("--device cuda was asked for, but no CUDA device is usable (" + why + ").");
    auto cpu = make_cpu_backend(opts.threads);
    if (notice) *notice = "using " + cpu->name() + "; no CUDA device is usable (" + why + ")";
    return cpu;
  }
  auto cpu = make_cpu_backend(opts.threads);
  if (notice) *notice = "using " + cpu->name();
  return cpu;
}

}  // namespace emb
