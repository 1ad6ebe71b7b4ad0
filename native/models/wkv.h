// The WKV recurrences of RWKV v5/v6 and v7, over T tokens, sequential in t and parallel over heads.
// Vectors are T rows of C = H*S floats; `state` is H matrices of S×S floats.
#pragma once
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"

namespace rwkv {

struct WkvArgs {
  int64_t H, S, T;
  const float* r;            // (T, C)
  const float* k;            // (T, C)
  const float* v;            // (T, C)
  const float* w_per_token;  // (T, C) decay per token (v6), or null to use w_fixed
  const float* w_fixed;      // (C) decay for every token (v5)
  const float* u;            // (C) bonus for the current token
  float* y;                  // (T, C) out
  float* state;              // (H, S, S) [h][key i][value j], updated
};

// v5/v6: y[j] = sum_i r[i]*(u[i]*k[i]*v[j] + S[i][j]);  S[i][j] = w[i]*S[i][j] + k[i]*v[j].
// One entry per sequence; all (sequence, head) pairs run in parallel (batched decoding has many
// sequences of one token each).
void wkv5_6(const std::vector<WkvArgs>& seqs, ThreadPool& pool);

struct Wkv7Args {
  int64_t H, S, T;
  const float* r;      // (T, C)
  const float* w;      // (T, C) decay in (0, 1)
  const float* k;      // (T, C) k̃ (after the a-mix)
  const float* v;      // (T, C)
  const float* kk;     // (T, C) κ̂, L2-normalised per head
  const float* a;      // (T, C) in-context learning rate
  float* y;            // (T, C) out
  float* state;        // (H, S, S) [h][value i][key j], updated
};

// v7: sa = sum_j S[i][j]*(-κ̂[j]);  S[i][j] = S[i][j]*w[j] + v[i]*k̃[j] + sa*κ̂[j]*a[j];  y[i] = sum_j S[i][j]*r[j].
void wkv7(const std::vector<Wkv7Args>& seqs, ThreadPool& pool);

// One token of one head of v7 (wkv7 runs these): the plain loop, any S; and the AVX-512 kernel
// (wkv7_avx512.cpp, 16 rows at a time), which returns false for head sizes it has no kernel for and
// prefetches `prefetch` (the state this thread updates next, S*S floats; may be null) as it goes.
// Both implement the formula above; their sums run in different orders.
void wkv7_step_plain(int64_t S, float* st, const float* r, const float* w, const float* k, const float* v,
                     const float* kk, const float* a, float* y);
bool wkv7_step_avx512(int64_t S, float* st, const float* r, const float* w, const float* k, const float* v,
                      const float* kk, const float* a, float* y, const float* prefetch = nullptr);

}  // namespace rwkv
