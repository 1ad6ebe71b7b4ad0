// The persistent decode step (shaders/step7.comp): the ops that Ops captured for one RWKV-7 token
// (matvecs with and without the LN prologue, WKV-7 with the output projection) become one dispatch
// that runs them in order with grid barriers between them. This file checks that the persistent
// shader can run what was captured and lays out its op table; gpu_model.cpp records and checks it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/vulkan/ops.h"

namespace rwkv::vk {

// Invocations per workgroup: S * P of the one-token WKV-7 (head size 64, P = 4), 8 subgroups of 32 for
// the matvecs. RWKV_VK_PERSISTENT_THREADS (256 or 512; measurements) overrides.
constexpr uint32_t kPersistentThreads = 256;
uint32_t persistent_threads();

struct PersistentStep {
  std::string shader;           // step7_f16 or step7_f32
  std::vector<uint32_t> spec;   // {threads, RB, U, S, P, NSLOT} as step7.comp numbers them
  std::vector<uint8_t> table;   // op table, for upload at `table_address`
  uint32_t n_ops = 0;
  std::vector<std::string> labels;  // each op's label (step profiles)
};

// Mirrors step7.comp's push constants.
struct PersistentPC {
  uint64_t ops, sync;
  uint32_t n_ops, spin_limit;
  uint64_t prof;  // the profiled variant's (op, workgroup) times; 0 otherwise
};

// Builds the op table for `ops` at device address `table_address`. Returns false, with `why`, when an
// op is one the persistent shader does not run (another shader, mixed weight types, other shapes).
bool plan_persistent_step(const std::vector<Ops::CapturedOp>& ops, uint64_t table_address, PersistentStep& out,
                          std::string* why);

// Bytes of the op table for n ops (the owner allocates it before capturing).
inline uint64_t persistent_table_bytes(size_t n_ops) { return uint64_t(n_ops) * (32 + 128); }

}  // namespace rwkv::vk
