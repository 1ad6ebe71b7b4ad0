// ChannelMix: the FFN half of every RWKV layer (engine-spec section 2).
//   v4/v5 (Lerp): xk = x*mk + prev*(1-mk), xr likewise; out = sigmoid(Wr·xr) * (Wv·relu²(Wk·xk))
//   v6 (Maa):     xk = x + (prev-x)*maa_k, xr likewise; same output
//   v7:           xk = x + (prev-x)*x_k;                out = Wv·relu²(Wk·xk) (no receptance)
#pragma once
#include <string>
#include <vector>

#include "models/architecture.h"

namespace rwkv {

struct ChannelMix {
  enum class Kind { Lerp, Maa, V7 };
  Kind kind = Kind::Lerp;
  int64_t C = 0, F = 0;
  std::vector<float> mix_k, mix_r;  // (C); mix_r unused for v7
  Tensor key;                       // (C, F): F rows of C
  Tensor value;                     // (F, C): C rows of F
  Tensor receptance;                // (C, C); absent for v7

  static ChannelMix bind(const WeightBinder& w, const std::string& prefix, Kind kind, int64_t C, int64_t F);
  static size_t scratch_floats_per_token(int64_t C, int64_t F) { return size_t(5 * C + F + 64); }
  // x: batch.rows rows of C, updated in place (x += ChannelMix(LN2(x))). The token-shift value is
  // the first C floats of each sequence's layer state (ffn_xx).
  void apply(float* x, const Batch& batch, const float* ln2_w, const float* ln2_b, Workspace& ws) const;
};

}  // namespace rwkv
