#include "models/wkv.h"

#include <algorithm>
#include <functional>
#include <new>

#include "core/large_buffer.h"
#include "core/simd_clones.h"
#include "kernels/cpu/matvec.h"

// The recurrences run once per head per token: with S = 64 that is 4096 state elements each time, so
// they must vectorise (RWKV_SIMD_CLONES).

namespace rwkv {

namespace {

constexpr int kLanes = 16;  // partial sums: a fixed order the compiler can keep in one vector register

// One token, one head of v5/v6: y[j] = sum_i r[i]*(u[i]*k[i]*v[j] + S[i][j]); S[i][j] = w[i]*S[i][j] + k[i]*v[j].
RWKV_SIMD_CLONES
void wkv5_6_step(int64_t S, float* __restrict st, const float* __restrict r, const float* __restrict k,
                 const float* __restrict v, const float* __restrict w, const float* __restrict u, float* __restrict y) {
  for (int64_t j = 0; j < S; ++j) y[j] = 0;
  for (int64_t i = 0; i < S; ++i) {
    float* __restrict row = st + i * S;
    const float ri = r[i], ki = k[i], wi = w[i], uki = u[i] * ki;
    for (int64_t j = 0; j < S; ++j) {
      y[j] += ri * (uki * v[j] + row[j]);
      row[j] = wi * row[j] + ki * v[j];
    }
  }
}

// The AVX-512 WKV-7 kernel runs where the AVX-512 matrix kernels were chosen: one decision, from the
// CPU's features and RWKV_KERNELS (kernels/cpu/kernel_select.cpp).
bool has_avx512() { return &cpu::best_kernels() != &cpu::reference_kernels(); }

}  // namespace

// One token, one head of v7: sa = sum_j S[i][j]*(-kk[j]); S[i][j] = S[i][j]*w[j] + v[i]*k[j] + sa*kk[j]*a[j];
// y[i] = sum_j S[i][j]*r[j].
RWKV_SIMD_CLONES
void wkv7_step_plain(int64_t S, float* __restrict st, const float* __restrict r, const float* __restrict w,
                     const float* __restrict k, const float* __restrict v, const float* __restrict kk,
                     const float* __restrict a, float* __restrict y) {
  float kka[256];  // κ̂·a, once per token (S <= 256 checked by the caller)
  for (int64_t j = 0; j < S; ++j) kka[j] = kk[j] * a[j];
  for (int64_t i = 0; i < S; ++i) {
    float* __restrict row = st + i * S;
    float part[kLanes] = {};
    int64_t j = 0;
    for (; j + kLanes <= S; j += kLanes)
      for (int l = 0; l < kLanes; ++l) part[l] += row[j + l] * kk[j + l];
    float sa = 0;
    for (int l = 0; l < kLanes; ++l) sa += part[l];
    for (; j < S; ++j) sa += row[j] * kk[j];
    sa = -sa;
    const float vi = v[i];
    float ypart[kLanes] = {};
    j = 0;
    for (; j + kLanes <= S; j += kLanes)
      for (int l = 0; l < kLanes; ++l) {
        const float nv = row[j + l] * w[j + l] + vi * k[j + l] + sa * kka[j + l];
        row[j + l] = nv;
        ypart[l] += nv * r[j + l];
      }
    float yi = 0;
    for (int l = 0; l < kLanes; ++l) yi += ypart[l];
    for (; j < S; ++j) {
      row[j] = row[j] * w[j] + vi * k[j] + sa * kka[j];
      yi += row[j] * r[j];
    }
    y[i] = yi;
  }
}

// Runs fn(seq, head) for every pair, in parallel when the total work beats the hand-off.
template <class Args, class Fn>
void for_each_seq_head(const std::vector<Args>& seqs, ThreadPool& pool, Fn&& fn) {
  int64_t work = 0;
  for (const Args& a : seqs) work += a.H * a.S * a.S * a.T;
  const int64_t H = seqs.empty() ? 0 : seqs[0].H, tasks = int64_t(seqs.size()) * H;
  if (work < 64 * 1024) {
    for (int64_t t = 0; t < tasks; ++t) fn(seqs[size_t(t / H)], t % H);
  } else {
    pool.run(tasks, [&](int64_t t, int) { fn(seqs[size_t(t / H)], t % H); });
  }
}

void wkv5_6(const std::vector<WkvArgs>& seqs, ThreadPool& pool) {
  for_each_seq_head(seqs, pool, [](const WkvArgs& a, int64_t h) {
    const int64_t C = a.H * a.S, S = a.S;
    float* st = a.state + h * S * S;
    for (int64_t t = 0; t < a.T; ++t) {
      const int64_t o = t * C + h * S;
      const float* w = a.w_per_token ? a.w_per_token + o : a.w_fixed + h * S;
      wkv5_6_step(S, st, a.r + o, a.k + o, a.v + o, w, a.u + h * S, a.y + o);
    }
  });
}

namespace {

// A prompt's WKV-7 runs one head per task over all its tokens, and the head's inputs for token t lie in
// six (T, C) arrays, each row written by whichever thread ran that token's or that channel's share of
// the ops before (a line from the other core's cache costs ~0.25 us on the 2-vCPU machines measured).
// Read in the step loop, one token at a time, those lines came in at the pace of the recurrence: on two
// threads WKV-7 took as long as on one (0.4B Q8_0 prefill, 512 tokens: 105 against 95 ms). Gathered
// first into one contiguous plane per input (many independent loads in flight), the loop then reads
// its own cache. Same step function on the same values: the same bits.
constexpr int64_t kGatherTokens = 16;

// One head over T tokens, one step each: token t's six inputs (r, w, k, v, kk, a) at in[i] + t * stride,
// its output at y + t * stride.
void wkv7_head_tokens(int64_t S, int64_t T, int64_t stride, float* st, const float* const (&in)[6], float* y,
                      bool fast) {
  for (int64_t t = 0; t < T; ++t) {
    const int64_t o = t * stride;
    if (!(fast && wkv7_step_avx512(S, st, in[0] + o, in[1] + o, in[2] + o, in[3] + o, in[4] + o, in[5] + o, y + o)))
      wkv7_step_plain(S, st, in[0] + o, in[1] + o, in[2] + o, in[3] + o, in[4] + o, in[5] + o, y + o);
  }
}

// The same, with the inputs first copied into contiguous planes (stride S) and y copied back. Returns
// false, having done nothing, when the planes cannot be mapped: the caller then reads in place.
bool wkv7_head_gathered(int64_t S, int64_t T, int64_t stride, float* st, const float* const (&in)[6], float* y,
                        bool fast) {
  thread_local LargeBuffer buf;
  try {
    buf.reserve(size_t(7 * T * S) * sizeof(float));
  } catch (const std::bad_alloc&) {
    return false;  // on a pool thread nothing may escape
  }
  float* const planes = reinterpret_cast<float*>(buf.data());
  const float* plane[6];
  for (int i = 0; i < 6; ++i) {
    float* p = planes + i * T * S;
    for (int64_t t = 0; t < T; ++t) std::copy_n(in[i] + t * stride, S, p + t * S);
    plane[i] = p;
  }
  float* const y_plane = planes + 6 * T * S;
  wkv7_head_tokens(S, T, S, st, plane, y_plane, fast);
  for (int64_t t = 0; t < T; ++t) std::copy_n(y_plane + t * S, S, y + t * stride);
  return true;
}

}  // namespace

void wkv7(const std::vector<Wkv7Args>& seqs, ThreadPool& pool) {
  const bool fast = has_avx512();
  bool one_token = seqs.size() > 1;
  for (const Wkv7Args& a : seqs) one_token = one_token && a.T == 1;
  if (fast && one_token) {
    // Batched decoding: each (sequence, head) state is read and written once, from memory (several
    // sequences' states do not stay in cache between tokens), so the step is memory-bound. Each thread
    // takes a run of consecutive pairs and prefetches the next pair's state while it updates this one.
    const int64_t H = seqs[0].H, S = seqs[0].S, pairs = int64_t(seqs.size()) * H;
    const int64_t chunks = std::min<int64_t>(pairs, int64_t(pool.size()) * 2), per = (pairs + chunks - 1) / chunks;
    auto state_of = [&](int64_t p) { return seqs[size_t(p / H)].state + (p % H) * S * S; };
    pool.run((pairs + per - 1) / per, [&](int64_t c, int) {
      for (int64_t p = c * per, end = std::min(pairs, p + per); p < end; ++p) {
        const Wkv7Args& a = seqs[size_t(p / H)];
        const int64_t o = (p % H) * S;
        const float* next = p + 1 < end ? state_of(p + 1) : nullptr;
        if (!wkv7_step_avx512(S, state_of(p), a.r + o, a.w + o, a.k + o, a.v + o, a.kk + o, a.a + o, a.y + o, next))
          wkv7_step_plain(S, state_of(p), a.r + o, a.w + o, a.k + o, a.v + o, a.kk + o, a.a + o, a.y + o);
      }
    });
    return;
  }
  for_each_seq_head(seqs, pool, [fast](const Wkv7Args& a, int64_t h) {
    const int64_t C = a.H * a.S, S = a.S, o = h * S;
    float* st = a.state + h * S * S;
    const float* const in[6] = {a.r + o, a.w + o, a.k + o, a.v + o, a.kk + o, a.a + o};
    if (a.T >= kGatherTokens && wkv7_head_gathered(S, a.T, C, st, in, a.y + o, fast)) return;
    wkv7_head_tokens(S, a.T, C, st, in, a.y + o, fast);
  });
}

}  // namespace rwkv
