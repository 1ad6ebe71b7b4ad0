#include "kernels/vulkan/persistent_step.h"

#include <cstring>

#include "kernels/vulkan/env_knobs.h"

namespace rwkv::vk {

namespace {

// Mirrors `struct Op` in step7.comp.
struct GpuOp {
  uint64_t mv, wk;
  uint32_t kind, groups, pad0, pad1;
};
static_assert(sizeof(GpuOp) == 32, "must match step7.comp");
constexpr uint32_t kMatvec = 1, kWkv7 = 2;

}  // namespace

uint32_t persistent_threads() {
  static const uint32_t t = env_uint("RWKV_VK_PERSISTENT_THREADS", kPersistentThreads, 256, 512);
  return t == 512 ? 512 : kPersistentThreads;
}

bool plan_persistent_step(const std::vector<Ops::CapturedOp>& ops, uint64_t table_address, PersistentStep& out,
                          std::string* why) {
  auto fail = [&](const std::string& w) {
    if (why) *why = w;
    return false;
  };
  if (ops.empty()) return fail("no ops");
  int dtype = -1;  // 0 F32, 1 F16: one shader variant per weight type
  std::vector<uint32_t> mv_spec, wk_spec;
  auto same = [&](int t) {
    if (dtype < 0) dtype = t;
    return dtype == t;
  };
  const size_t n = ops.size();
  out.table.assign(persistent_table_bytes(n), 0);
  for (size_t i = 0; i < n; ++i) {
    const Ops::CapturedOp& op = ops[i];
    const std::string& s = op.shader;
    GpuOp g{};
    g.groups = op.groups;
    if (s == "matvec_f16" || s == "matvec_f16_ln" || s == "matvec_f32" || s == "matvec_f32_ln") {
      if (!same(s.compare(0, 10, "matvec_f16") == 0 ? 1 : 0)) return fail("matvecs of several weight types");
      if (op.spec.size() != 3 || op.spec[0] != persistent_threads()) return fail(s + ": not shaped for the persistent step");
      if (mv_spec.empty()) mv_spec = op.spec;
      if (op.spec != mv_spec) return fail("matvecs of different shapes");
      g.kind = kMatvec;
    } else if (s == "wkv7_wo_f16" || s == "wkv7_wo_f32") {
      if (!same(s == "wkv7_wo_f16" ? 1 : 0)) return fail("WKV-7 output projection of another weight type");
      if (op.spec.size() != 4 || op.spec[0] != persistent_threads()) return fail(s + ": S * P is not the step's workgroup");
      if (wk_spec.empty()) wk_spec = op.spec;
      if (op.spec != wk_spec) return fail("WKV-7 ops of different shapes");
      g.kind = kWkv7;
    } else {
      return fail("op " + s + " has no persistent form");
    }
    if (op.pc.size() > 128) return fail("push constants over 128 bytes");
    const uint64_t pc_at = uint64_t(n) * sizeof(GpuOp) + uint64_t(i) * 128;
    std::memcpy(out.table.data() + pc_at, op.pc.data(), op.pc.size());
    g.mv = g.wk = table_address + pc_at;
    std::memcpy(out.table.data() + i * sizeof(GpuOp), &g, sizeof g);
    out.labels.push_back(op.label);
  }
  if (mv_spec.empty()) return fail("no matvec");
  if (wk_spec.empty()) wk_spec = {persistent_threads(), 64, persistent_threads() / 64, 4};
  out.shader = dtype == 1 ? "step7_f16" : "step7_f32";
  out.spec = {persistent_threads(), mv_spec[1], mv_spec[2], wk_spec[1], wk_spec[2], wk_spec[3]};
  out.n_ops = uint32_t(n);
  return true;
}

}  // namespace rwkv::vk
