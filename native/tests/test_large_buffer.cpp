// LargeBuffer: the scratch memory of prompt passes (Arena, Linear's packed inputs).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "core/large_buffer.h"

using namespace rwkv;

namespace {
bool all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != 0) return false;
  return true;
}
}  // namespace

TEST(LargeBuffer, GrowsInWholeAlignedHugePagesZeroedAndKeepsItsContentsOtherwise) {
  constexpr size_t kHuge = size_t(2) << 20;
  LargeBuffer b;
  EXPECT_EQ(b.size(), 0u);
  b.reserve(1000);
  ASSERT_NE(b.data(), nullptr);
  EXPECT_EQ(b.size(), kHuge);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % kHuge, 0u);
  EXPECT_TRUE(all_zero(b.data(), b.size()));
  std::memset(b.data(), 0x5a, b.size());
  uint8_t* const first = b.data();
  b.reserve(kHuge);  // fits: nothing moves, nothing is cleared
  EXPECT_EQ(b.data(), first);
  EXPECT_EQ(b.data()[kHuge - 1], 0x5a);
  b.reserve(5 * kHuge + 1);  // grows: new memory, zeros
  EXPECT_EQ(b.size(), 6 * kHuge);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % kHuge, 0u);
  EXPECT_TRUE(all_zero(b.data(), b.size()));
  b.data()[b.size() - 1] = 1;  // the whole size is writable
  EXPECT_EQ(b.data()[b.size() - 1], 1);
}
