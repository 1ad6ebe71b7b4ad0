// How the AVX-512 row kernels walk a product (for the *_avx512.cpp files, included only by them): the
// prompt tile's shape, a register tile's sums, row tiles for several tokens, split rows for decoding, the
// prefetch distance on weight rows, and the key of a thread's packed activations. Shared by every weight
// type so that each type's tiles see the rows in the same order.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "kernels/cpu/matvec.h"
#include "kernels/cpu/reduce_avx512.h"

namespace rwkv::cpu {

constexpr int kTileRows = 4;    // rows per register tile in prefill
constexpr int kTileTokens = 4;  // tokens per register tile in prefill
// Software prefetch distance on the weight stream. The row kernels consume a quantized row slowly
// enough that the hardware prefetchers alone leave DRAM idle between demand misses; 8 KB ahead
// measured best (Q4_0 decode from DRAM: 0.98 -> 0.67 ns per block, Q8_0: 2.3 -> 0.88).
constexpr int kPrefetchBytes = 8192;

// Which activations a thread's scratch holds: `tokens` tokens of call x_id (MatvecArgs::x_id), so the
// next row range of the same product on this thread skips packing them again. x_id 0 matches nothing.
struct PackedKey {
  uint64_t x_id = 0;
  int64_t tokens = 0;
  bool holds(uint64_t id, int64_t n) const { return id != 0 && x_id == id && tokens == n; }
  void set(uint64_t id, int64_t n) { x_id = id, tokens = n; }
  void clear() { x_id = 0; }
};

// Calls f(std::integral_constant<int, n>) for a count n in [1, kMax] known only at run time (a tile's
// rows or tokens at the end of a range), so that the tile is compiled for each count; n outside: nothing.
template <int kMax, class F>
inline void with_count(int64_t n, F&& f) {
  static_assert(kMax >= 1 && kMax <= 4);
  switch (n) {
    case 1: f(std::integral_constant<int, 1>{}); break;
    case 2: if constexpr (kMax >= 2) f(std::integral_constant<int, 2>{}); break;
    case 3: if constexpr (kMax >= 3) f(std::integral_constant<int, 3>{}); break;
    case 4: if constexpr (kMax >= 4) f(std::integral_constant<int, 4>{}); break;
    default: break;
  }
}

// out[r * NT + t] = hsum512(acc[r][t]); a tile of 16 accumulators in one reduction tree (same bits).
template <int R, int NT>
inline void hsum_tile(const __m512 (&acc)[R][NT], float* out) {
  if constexpr (R * NT == 16) {
    _mm512_storeu_ps(out, sum16(reinterpret_cast<const __m512(&)[16]>(acc)));
  } else {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) out[r * NT + t] = hsum512(acc[r][t]);
  }
}

// Rows [r0, r1) in register tiles of kRows rows (the last tile smaller) against NT tokens: the row
// pointers of each tile go to tile(rows, w, out), which writes out[r * NT + t]; the results land in
// Y[t * ldy + row]. One walk for the quantized and the float tiles.
template <int NT, int kRows, class Tile>
inline void for_row_tiles(const MatvecArgs& a, int64_t r0, int64_t r1, float* Y, int64_t ldy, Tile&& tile) {
  float out[kRows * NT];
  const uint8_t* w[kRows];
  auto run = [&](int64_t r, auto rows) {
    constexpr int R = decltype(rows)::value;
    for (int i = 0; i < R; ++i) w[i] = a.w + size_t(r + i) * a.w_row_bytes;
    tile(rows, w, out);
    for (int i = 0; i < R; ++i)
      for (int t = 0; t < NT; ++t) Y[t * ldy + r + i] = out[i * NT + t];
  };
  int64_t r = r0;
  for (; r + kRows <= r1; r += kRows) run(r, std::integral_constant<int, kRows>{});
  if constexpr (kRows > 1) with_count<kRows - 1>(r1 - r, [&](auto rows) { run(r, rows); });
}

// Decode (one token): the rows [r0, r1) of this thread cut into S equal parts walked side by side, one
// row of each part per S-row tile. S rows give S independent accumulator chains: one row alone is a
// chain of dependent fmas, which caps a core at ~4 weights a cycle (F16 rows in cache: 54-64 GB/s on
// 2 cores, 91-93 with two chains). Rows a part apart are also S separate streams for the prefetchers:
// two adjacent rows (sharing their prefetches) measured 5-18% slower from DRAM than one row.
//  * Float rows: S = 2. From DRAM, against one row at a time, call by call: +6-32% when the memory is
//    fast, -2% when it is slow; four parts were 1-13% slower than two from DRAM (README).
//  * Q4_0/Q4_1/Q5_0/Q5_1 rows: S = 4 (kDecodeParts). Unpacking nibbles makes them compute-bound while
//    the memory is fast; against two parts, call by call from DRAM: Q5_1 +14-45%, Q4_1 +6-8%, Q4_0
//    +0-19%, all within ±1% while the memory is slow; end to end 0.1B Q5_1 +2-4% (README).
//  * Q8_0 rows: S = 2. Four were +1-5% on one large matrix but 1-5% slower end to end (0.1B/0.4B
//    decode, where a pool task holds a few hundred rows and a quarter of them is a short stream).
// Each row's ops are those of the 1-row tile: the bits do not change.
template <int S, class Tile>
inline void for_split_rows(const MatvecArgs& a, int64_t r0, int64_t r1, float* y, Tile&& tile) {
  const int64_t n = (r1 - r0) / S;
  float out[S];
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* w[S];
    for (int s = 0; s < S; ++s) w[s] = a.w + size_t(r0 + s * n + i) * a.w_row_bytes;
    tile(std::integral_constant<int, S>{}, w, out);
    for (int s = 0; s < S; ++s) y[r0 + s * n + i] = out[s];
  }
  for (int64_t r = r0 + S * n; r < r1; ++r) {  // the rows left over (fewer than S)
    const uint8_t* w[1] = {a.w + size_t(r) * a.w_row_bytes};
    tile(std::integral_constant<int, 1>{}, w, out);
    y[r] = out[0];
  }
}
}  // namespace rwkv::cpu
