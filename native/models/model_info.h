// ModelInfo: the version and dimensions of a model, detected once at load time from its tensors.
// Nothing downstream detects them again.
#pragma once
#include <cstdint>
#include <string>

#include "core/dtype.h"

namespace rwkv {

struct ModelInfo {
  int version_major = 0;  // 4, 5, 6, 7
  int version_minor = 0;  // 5.1 vs 5.2; 0 otherwise
  int n_layer = 0;        // L
  int n_embd = 0;         // C
  int n_vocab = 0;        // V
  int n_head = 0;         // H (v4: 0, no heads)
  int head_size = 0;      // S = C / H (v4: 0)
  int ffn_size = 0;       // F
  DType data_type = DType::F32;  // the file's main type (matrices may differ)
  float group_norm_eps = 0;      // ln_x eps: 1e-5 for v5 (rwkv.cpp parity), 64e-5 for v6/v7
  uint64_t file_bytes = 0;
  uint64_t params = 0;           // number of weights
  uint64_t decode_bytes = 0;     // bytes of weights read per decoded token (all but the embedding table)

  std::string version_string() const;            // "4", "5.1", "5.2", "6", "7"
  int64_t state_floats_per_layer() const;        // 5C (v4) or (2 + S)C
  int64_t state_size() const { return state_floats_per_layer() * n_layer; }
};

}  // namespace rwkv
