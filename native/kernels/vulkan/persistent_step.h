// The persistent decode step (shaders/step7.comp): the ops that Ops captured for one RWKV-7 token
// (matvecs with and without the LN prologue, WKV-7 with or without the output projection) become one
// dispatch that runs them in order with grid barriers between them. This file checks that the persistent
// shader can run what was captured, lays out its op table and sums the times its profiled variant notes;
// gpu_model.cpp records and checks it.
#pragma once
#include <cstdint>
#include <map>
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
  // arrivals[k]: the grid count after the first k ops (each op adds one per workgroup that runs it), so a
  // step of k ops completed when its count reads arrivals[k].
  std::vector<uint32_t> arrivals;
};

// Mirrors step7.comp's push constants.
struct PersistentPC {
  uint64_t ops, sync;
  uint32_t n_ops, spin_limit;
  uint64_t prof;  // the profiled variant's (op, workgroup) times; 0 otherwise
  uint32_t flags;  // kStep* below
  uint32_t pad;
};
// PersistentPC::flags (shaders/step7.comp). kStepNoPreload: no weights before an op's grid barrier
// (measurements). kStepQ8Int: Q8_0 jobs round their staged input to 8-bit blocks (the CPU's scheme, as the
// dispatch path does) and multiply with integer dot products, the device's own where it has them
// (step7_mixed_idot), instead of turning each int8 weight into a float: results then follow the CPU's Q8_0
// kernels rather than the dequantized weights. Bits 1, 4 and 8 are free: reads moved ahead of the grid
// barriers (WKV-7's state rows, the norms' parameters, a matvec's second batch), which an H100 found slower
// on and off (their code alone took 1.5B FP16 decode from 1.51 to 2.36 ms a token: native/kernels/vulkan/
// README.md, *Reading ahead of the barrier, removed*).
constexpr uint32_t kStepNoPreload = 2, kStepQ8Int = 16;
// GpuOptions::persistent_flags's default: RWKV_VK_STEP_FLAGS, else kStepQ8Int (Q8_0 as the CPU and the dispatch
// path compute it).
uint32_t persistent_step_flags();

// The profiled variant (step7_*_prof) writes kProfileWords words per (op, workgroup): the device clock when
// the workgroup passed the op's grid barrier [0], finished it [1], and WKV-7's phases [2..6].
constexpr uint32_t kProfileWords = 8;

// Where a persistent step's time goes, from the device-clock times its profiled variant notes for every
// (op, workgroup): when the workgroup passed the op's grid barrier and when it finished the op. Per op:
// `barrier` = first release - the latest op finish before it (that of the op it waited for: the grid
// barrier's own latency), `spread` = last release - first release, `work` = last finish - first release
// (the op's critical path), `mean` = the mean of each workgroup's finish - release, `tail` = last finish -
// median finish (imbalance); over the workgroups that ran the op. Summed per label over the steps added.
struct StepProfile {
  struct Sums {
    int ops = 0;
    double barrier = 0, spread = 0, work = 0, mean = 0, tail = 0;
    double phase[6] = {};  // WKV-7: release -> LoRA done -> kk norm -> y -> Wo partials -> counted in -> finish
    int phase_n = 0;       // (op, workgroup) pairs that stamped them
  };
  std::map<std::string, Sums> per_label;
  std::vector<std::string> order;
  double total = 0;

  // One step's words (kProfileWords per (op, workgroup)) for ops labelled `labels`.
  void add(const std::vector<std::string>& labels, const uint32_t* words, uint32_t workgroups);
  // The sums as a table, per step of the `steps` added.
  std::string text(int steps) const;
};

// Builds the op table for `ops` at device address `table_address`, for a step of `workgroups` whose last
// `side_workgroups` form the side group (Ops::step_group_range). Returns false, with `why`, when an op is
// one the persistent shader does not run (another shader, mixed weight types, other shapes).
//
// Which workgroups wait for what: every op counts each of its workgroups into the grid count when it ends
// (and the group ops into their group's count too). An op for all workgroups waits for the grid count of
// every op before it. The first op of a group after an op for all waits for the grid count up to that op,
// so the two groups' first ops start together; a later op of the same group waits for its group's count
// only (its group's earlier ops, which had waited for everything before them).
bool plan_persistent_step(const std::vector<Ops::CapturedOp>& ops, uint64_t table_address, uint32_t workgroups,
                          uint32_t side_workgroups, PersistentStep& out, std::string* why);

// Bytes of the op table for n ops (the owner allocates it before capturing).
inline uint64_t persistent_table_bytes(size_t n_ops) { return uint64_t(n_ops) * (32 + 128); }

}  // namespace rwkv::vk
