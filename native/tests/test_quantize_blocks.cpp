// quantize_row: hand-checked blocks for each rounding rule, and round trips within one step.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "quantize/quantize_blocks.h"

using namespace rwkv;

namespace {

const DType kQuantTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0};

std::vector<float> dequantized(DType t, const std::vector<uint8_t>& q, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  dequantize_row(t, q.data(), y.data(), n);
  return y;
}

std::vector<uint8_t> quantized(DType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(dtype_row_bytes(t, int64_t(x.size())));
  quantize_row(t, x.data(), q.data(), int64_t(x.size()));
  return q;
}

// Codes of a 4-bit block, element order (low nibbles are 0..15, high nibbles 16..31).
std::vector<int> codes4(const uint8_t* qs) {
  std::vector<int> c(32);
  for (int j = 0; j < 16; ++j) {
    c[size_t(j)] = qs[j] & 0x0f;
    c[size_t(j) + 16] = qs[j] >> 4;
  }
  return c;
}

std::vector<int> codes5(const uint8_t* qs, const uint8_t* qh_bytes) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  std::vector<int> c = codes4(qs);
  for (int j = 0; j < 32; ++j) c[size_t(j)] |= int((qh >> j) & 1) << 4;
  return c;
}

}  // namespace

TEST(QuantizeBlocks, Q4_0NegativeMaxGivesPositiveStep) {
  // The largest |x| is -8, so d = -8 / -8 = +1 and -8 maps to code 0.
  std::vector<float> x(32, 0.0f);
  x[0] = -8.0f;
  x[1] = 7.0f;     // 7 + 8.5 = 15.5 -> 15
  x[2] = 0.5f;     // 9.0 -> 9
  x[3] = -0.5f;    // 8.0 -> 8
  x[4] = 0.49f;    // 8.99 -> 8 (truncation, not rounding)
  x[20] = -3.0f;   // 5.5 -> 5 (high nibble of qs[4])
  auto q = quantized(DType::Q4_0, x);
  const auto* b = reinterpret_cast<const BlockQ4_0*>(q.data());
  EXPECT_EQ(b->d, fp32_to_fp16(1.0f));
  const auto c = codes4(b->qs);
  EXPECT_EQ(c[0], 0);
  EXPECT_EQ(c[1], 15);
  EXPECT_EQ(c[2], 9);
  EXPECT_EQ(c[3], 8);
  EXPECT_EQ(c[4], 8);
  EXPECT_EQ(c[5], 8);  // zero -> 8
  EXPECT_EQ(c[20], 5);
}

TEST(QuantizeBlocks, Q4_0PositiveMaxClampsTheOppositeEnd) {
  // Max +8: d = -1, so +8 -> code 0 and -8 would be code 16, clamped to 15 (dequantizes to -7).
  std::vector<float> x(32, 1.0f);
  x[7] = 8.0f;
  x[8] = -8.0f;  // equal magnitude, later: the first one (x[7]) sets the sign of d
  auto q = quantized(DType::Q4_0, x);
  const auto* b = reinterpret_cast<const BlockQ4_0*>(q.data());
  EXPECT_EQ(b->d, fp32_to_fp16(-1.0f));
  const auto c = codes4(b->qs);
  EXPECT_EQ(c[7], 0);
  EXPECT_EQ(c[8], 15);
  EXPECT_EQ(c[0], 7);  // 1 * -1 + 8.5 = 7.5 -> 7
  const auto y = dequantized(DType::Q4_0, q, 32);
  EXPECT_EQ(y[7], 8.0f);
  EXPECT_EQ(y[8], -7.0f);
}

TEST(QuantizeBlocks, Q5_0UsesTheHighBits) {
  std::vector<float> x(32, 0.0f);
  x[0] = -16.0f;  // d = 1
  x[1] = 15.0f;   // 31.5 -> 31
  x[17] = 3.0f;   // 19.5 -> 19: high bit set for element 17
  x[18] = -1.0f;  // 15.5 -> 15: high bit clear
  auto q = quantized(DType::Q5_0, x);
  const auto* b = reinterpret_cast<const BlockQ5_0*>(q.data());
  EXPECT_EQ(b->d, fp32_to_fp16(1.0f));
  const auto c = codes5(b->qs, b->qh);
  EXPECT_EQ(c[0], 0);
  EXPECT_EQ(c[1], 31);
  EXPECT_EQ(c[17], 19);
  EXPECT_EQ(c[18], 15);
  EXPECT_EQ(c[2], 16);
  EXPECT_EQ(dequantized(DType::Q5_0, q, 32), std::vector<float>([&] {
              std::vector<float> e(32, 0.0f);
              e[0] = -16; e[1] = 15; e[17] = 3; e[18] = -1;
              return e;
            }()));
}

TEST(QuantizeBlocks, Q4_1AndQ5_1RoundHalfUpFromTheMinimum) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[size_t(j)] = float(j % 16);  // min 0, max 15
  x[3] = 7.5f;   // exactly half-way: 8
  x[4] = 7.49f;  // 7
  auto q = quantized(DType::Q4_1, x);
  const auto* b = reinterpret_cast<const BlockQ4_1*>(q.data());
  EXPECT_EQ(b->d, fp32_to_fp16(1.0f));
  EXPECT_EQ(b->m, fp32_to_fp16(0.0f));
  auto c = codes4(b->qs);
  EXPECT_EQ(c[3], 8);
  EXPECT_EQ(c[4], 7);
  EXPECT_EQ(c[15], 15);

  std::vector<float> y(32);
  for (int j = 0; j < 32; ++j) y[size_t(j)] = -10.0f + float(j);  // min -10, max 21: d = 1
  auto q5 = quantized(DType::Q5_1, y);
  const auto* b5 = reinterpret_cast<const BlockQ5_1*>(q5.data());
  EXPECT_EQ(b5->d, fp32_to_fp16(1.0f));
  EXPECT_EQ(b5->m, fp32_to_fp16(-10.0f));
  c = codes5(b5->qs, b5->qh);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(c[size_t(j)], j);
  EXPECT_EQ(dequantized(DType::Q5_1, q5, 32), y);
}

TEST(QuantizeBlocks, Q8_0RoundsHalfAwayFromZero) {
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;  // d = 1
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 0.5f;
  x[4] = -127.0f;
  auto q = quantized(DType::Q8_0, x);
  const auto* b = reinterpret_cast<const BlockQ8_0*>(q.data());
  EXPECT_EQ(b->d, fp32_to_fp16(1.0f));
  EXPECT_EQ(b->qs[0], 127);
  EXPECT_EQ(b->qs[1], 3);
  EXPECT_EQ(b->qs[2], -3);
  EXPECT_EQ(b->qs[3], 1);
  EXPECT_EQ(b->qs[4], -127);
}

TEST(QuantizeBlocks, ZeroBlocksStayZero) {
  const std::vector<float> x(64, 0.0f);
  for (DType t : kQuantTypes) {
    auto q = quantized(t, x);
    EXPECT_EQ(dequantized(t, q, 64), x) << dtype_name(t);
  }
  auto q = quantized(DType::Q4_0, x);
  EXPECT_EQ(codes4(reinterpret_cast<const BlockQ4_0*>(q.data())->qs), std::vector<int>(32, 8));
}

TEST(QuantizeBlocks, RoundTripWithinOneStep) {
  std::mt19937 rng(1234);
  for (float scale : {1e-4f, 0.02f, 1.0f, 300.0f}) {
    std::normal_distribution<float> nd(0.0f, scale);
    std::vector<float> x(32 * 64);
    for (float& v : x) v = nd(rng);
    for (int j = 0; j < 32; ++j) x[size_t(j) * 7] += 3 * scale;  // skew some blocks
    for (DType t : kQuantTypes) {
      const auto q = quantized(t, x);
      const auto y = dequantized(t, q, int64_t(x.size()));
      for (size_t blk = 0; blk < x.size() / 32; ++blk) {
        float lo = x[blk * 32], hi = lo, amax = 0;
        for (size_t j = blk * 32; j < blk * 32 + 32; ++j) {
          lo = std::min(lo, x[j]);
          hi = std::max(hi, x[j]);
          amax = std::max(amax, std::fabs(x[j]));
        }
        float step = 0;
        switch (t) {
          case DType::Q4_0: step = amax / 8; break;   // one full step: the clamped top code
          case DType::Q5_0: step = amax / 16; break;
          case DType::Q4_1: step = (hi - lo) / 15 / 2; break;
          case DType::Q5_1: step = (hi - lo) / 31 / 2; break;
          case DType::Q8_0: step = amax / 127 / 2; break;
          default: break;
        }
        // d and m are stored as FP16 (relative error 2^-11), which moves the grid a little.
        const float slack = amax * 40 * std::ldexp(1.0f, -11);
        for (size_t j = blk * 32; j < blk * 32 + 32; ++j)
          ASSERT_LE(std::fabs(y[j] - x[j]), step + slack) << dtype_name(t) << " scale " << scale << " element " << j;
      }
    }
  }
}

TEST(QuantizeBlocks, FloatTypesAndBadLengths) {
  const std::vector<float> x = {1.0f, -2.5f, 1e-8f, 65504.0f};
  auto q = quantized(DType::F16, x);
  const auto* h = reinterpret_cast<const uint16_t*>(q.data());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(h[i], fp32_to_fp16(x[i]));
  EXPECT_EQ(dequantized(DType::F32, quantized(DType::F32, x), 4), x);
  std::vector<uint8_t> dst(64);
  EXPECT_THROW(quantize_row(DType::Q8_0, x.data(), dst.data(), 4), Error);
}
