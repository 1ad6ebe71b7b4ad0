#include <gtest/gtest.h>

#include "cache/state_cache.h"

using namespace rwkv;

namespace {
std::vector<float> vec(float v, size_t n = 4) { return std::vector<float>(n, v); }
}  // namespace

TEST(StateCache, FindsTheLongestCachedPrefix) {
  StateCache cache(10, 0);
  const uint32_t a[] = {1, 2, 3, 4, 5, 6};
  cache.insert(a, 2, vec(2), vec(20));
  cache.insert(a, 4, vec(4), vec(40));
  auto hit = cache.lookup(a, 6);
  ASSERT_EQ(hit.length, 4u);
  EXPECT_EQ(hit.entry->state, vec(4));
  EXPECT_EQ(hit.entry->logits, vec(40));
  EXPECT_EQ(cache.lookup(a, 3).length, 2u);  // only prefixes of the query count
  const uint32_t other[] = {1, 9};
  EXPECT_EQ(cache.lookup(other, 2).length, 0u);
  const auto s = cache.stats();
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.tokens_saved, 6u);
  EXPECT_EQ(s.entries, 2u);
  EXPECT_EQ(s.bytes, 2 * 8 * sizeof(float));
}

TEST(StateCache, EvictsLeastRecentlyUsedButNeverPinned) {
  StateCache cache(2, 0);
  const uint32_t a[] = {1}, b[] = {2}, c[] = {3}, p[] = {9};
  cache.insert(p, 1, vec(9), vec(9), /*pin=*/true);
  cache.insert(a, 1, vec(1), vec(1));
  cache.insert(b, 1, vec(2), vec(2));  // 3 entries > 2: the oldest unpinned (a) goes
  EXPECT_EQ(cache.lookup(a, 1).length, 0u);
  EXPECT_EQ(cache.lookup(p, 1).length, 1u);
  EXPECT_EQ(cache.lookup(b, 1).length, 1u);
  cache.insert(c, 1, vec(3), vec(3));  // b was used after p's insert, so... p is pinned: b stays most recent, c new
  EXPECT_EQ(cache.lookup(p, 1).length, 1u);
  EXPECT_EQ(cache.stats().entries, 2u);
}

TEST(StateCache, ByteBudget) {
  StateCache cache(100, 3 * 8 * sizeof(float));
  for (uint32_t t = 0; t < 10; ++t) cache.insert(&t, 1, vec(float(t)), vec(float(t)));
  EXPECT_EQ(cache.stats().entries, 3u);
  const uint32_t last = 9, first = 0;
  EXPECT_EQ(cache.lookup(&last, 1).length, 1u);
  EXPECT_EQ(cache.lookup(&first, 1).length, 0u);
}

TEST(StateCache, DisabledCacheStoresNothing) {
  StateCache cache(0, 0);
  const uint32_t a[] = {1, 2};
  cache.insert(a, 2, vec(1), vec(1));
  EXPECT_EQ(cache.lookup(a, 2).length, 0u);
  EXPECT_FALSE(cache.enabled());
}

TEST(StateCache, EntriesOutliveEvictionWhileInUse) {
  StateCache cache(1, 0);
  const uint32_t a[] = {1}, b[] = {2};
  cache.insert(a, 1, vec(1), vec(1));
  auto hit = cache.lookup(a, 1);
  cache.insert(b, 1, vec(2), vec(2));  // evicts a
  EXPECT_EQ(hit.entry->state, vec(1));  // the caller's reference keeps it alive
  EXPECT_EQ(cache.lookup(a, 1).length, 0u);
}
