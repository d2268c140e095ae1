#pragma once
// exp and erf for float written with arithmetic and bit operations only, so loops
// that call them vectorize (libm's expf and erff do not, and they dominate GELU and
// softmax otherwise). Relative error of exp is below 2e-7 over its range; absolute
// error of erf below 2e-7. Each function has at most one comparison per select:
// They vectorize when built with -fno-trapping-math (CMakeLists.txt sets it).
#include <bit>
#include <cmath>
#include <cstdint>

namespace emb::vmath {

/// @brief e^x for x <= 0 (softmax after subtracting the maximum, erf's tail, tanh);
///        inputs below -87.3 give e^-87.3, about 1e-38.
inline float exp_nonpositive(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;
  constexpr float kLn2Lo = -2.12194440e-4f;
  x = x < -87.3f ? -87.3f : x;  // a ternary: std::max takes addresses, which blocks vectorizing
  // x = n ln2 + r, |r| <= ln2 / 2; e^x = 2^n e^r.
  // Round to nearest by adding and removing 1.5 * 2^23 (no libm call, so it vectorizes).
  constexpr float kRound = 12582912.0f;
  const float fn = (x * kLog2e + kRound) - kRound;
  const float r = (x - fn * kLn2Hi) - fn * kLn2Lo;
  // Taylor series of e^r to r^7 (truncation error below 6e-9 for |r| <= 0.347).
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t n = static_cast<int32_t>(fn);
  const float scale = std::bit_cast<float>(static_cast<int32_t>((n + 127) << 23));
  return p * scale;
}

/// @brief erf(x) by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7), odd extension.
inline float erf(float x) {
  const float ax = std::fabs(x);
  const float t = 1.0f / (1.0f + 0.3275911f * ax);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  const float y = 1.0f - p * t * vmath::exp_nonpositive(-ax * ax);
  return std::copysign(y, x);
}

/// @brief tanh(x) = sign(x) (1 - e^{-2|x|}) / (1 + e^{-2|x|}).
inline float tanh(float x) {
  const float e = vmath::exp_nonpositive(-2.0f * std::fabs(x));
  return std::copysign((1.0f - e) / (1.0f + e), x);
}

/// @brief GELU with the exact (erf) form, as PyTorch's gelu and BERT's "gelu".
inline float gelu_erf(float x) { return 0.5f * x * (1.0f + vmath::erf(x * 0.70710678118654752f)); }

/// @brief GELU with the tanh approximation ("gelu_new", "gelu_pytorch_tanh").
inline float gelu_tanh(float x) {
  constexpr float kC = 0.79788456080286536f;  // sqrt(2 / pi)
  return 0.5f * x * (1.0f + vmath::tanh(kC * (x + 0.044715f * x * x * x)));
}

}  // namespace emb::vmath
