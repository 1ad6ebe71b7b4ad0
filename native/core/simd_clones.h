// RWKV_SIMD_CLONES: compile a hot loop also for AVX-512 and AVX2 and pick the version at load time
// (GCC target_clones, an ifunc). The engine's generic code is built for baseline x86-64 so the addon
// runs on any x86-64 CPU; loops that must vectorise (WKV recurrences, the sampler's passes over the
// vocabulary) get wider vectors this way without a hand-written SIMD file.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RWKV_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define RWKV_SIMD_CLONES
#endif
