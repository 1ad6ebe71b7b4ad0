#include "kernels/vulkan/persistent_step.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "kernels/vulkan/env_knobs.h"

namespace rwkv::vk {

namespace {

// Mirrors `struct Op` in step7.comp. range: first workgroup | workgroups << 16; wait: the count to wait
// for | which count (0 grid, 2 side group, 3 main group) << 28 | the op's group << 30.
struct GpuOp {
  uint64_t mv, wk;
  uint32_t kind, groups, range, wait;
};
static_assert(sizeof(GpuOp) == 32, "must match step7.comp");
constexpr uint32_t kMatvec = 1, kWkv7 = 2;

}  // namespace

uint32_t persistent_threads() {
  static const uint32_t t = env_uint("RWKV_VK_PERSISTENT_THREADS", kPersistentThreads, 256, 512);
  return t == 512 ? 512 : kPersistentThreads;
}

uint32_t persistent_step_flags() {
  static const uint32_t f = env_uint("RWKV_VK_STEP_FLAGS", kStepQ8Int, 0, 0xFFFF);
  return f;
}

bool plan_persistent_step(const std::vector<Ops::CapturedOp>& ops, uint64_t table_address, uint32_t workgroups,
                          uint32_t side_workgroups, PersistentStep& out, std::string* why) {
  auto fail = [&](const std::string& w) {
    if (why) *why = w;
    return false;
  };
  if (ops.empty()) return fail("no ops");
  if (workgroups == 0 || workgroups > 0xFFFF || side_workgroups > workgroups) return fail("workgroup groups do not fit");
  using G = Ops::StepGroup;
  // The counts as the ops end: the grid's, the side group's and the main group's; the grid count when the
  // last op for all workgroups ended; whether each group has run an op since then.
  uint32_t grid = 0, side = 0, main = 0, grid_at_all = 0;
  bool side_ran = false, main_ran = false;
  out.arrivals.assign(1, 0);
  // One shader variant per weight type (step7_f32, step7_f16), or step7_mixed where any matvec mixes in
  // Q8_0 (it reads each job's type, F32 and F16 included; its WKV-7 takes an F16 output projection, or
  // none: the projection as an op of its own), step7_nibble where one mixes in Q4_0/Q4_1/Q5_0/Q5_1 (and
  // any of those).
  bool f32 = false, f16 = false, mixed = false, nibbles = false, wo_f32 = false;
  std::vector<uint32_t> mv_spec, wk_spec;
  const size_t n = ops.size();
  out.table.assign(persistent_table_bytes(n), 0);
  for (size_t i = 0; i < n; ++i) {
    const Ops::CapturedOp& op = ops[i];
    const std::string& s = op.shader;
    GpuOp g{};
    g.groups = op.groups;
    if (op.group != G::All && side_workgroups == 0) return fail("a group op without a side group");
    const auto [first, count] = Ops::step_group_range(op.group, workgroups, side_workgroups);
    g.range = first | count << 16;
    uint32_t target = grid, word = 0;
    if (op.group == G::Side && side_ran) target = side, word = 2;
    else if (op.group == G::Main && main_ran) target = main, word = 3;
    else if (op.group != G::All) target = grid_at_all;
    if (target >= (1u << 28)) return fail("too many ops");
    g.wait = target | word << 28 | uint32_t(op.group) << 30;
    grid += count;
    if (op.group == G::All) grid_at_all = grid, side_ran = main_ran = false;
    if (op.group == G::Side) side += count, side_ran = true;
    if (op.group == G::Main) main += count, main_ran = true;
    out.arrivals.push_back(grid);
    if (s == "matvec_f16" || s == "matvec_f16_ln" || s == "matvec_f32" || s == "matvec_f32_ln" || s == "matvec_mixed" ||
        s == "matvec_mixed_ln" || s == "matvec_nibble" || s == "matvec_nibble_ln") {
      (s.compare(0, 10, "matvec_f16") == 0 ? f16 : s.compare(0, 10, "matvec_f32") == 0 ? f32 : mixed) = true;
      nibbles |= s.compare(0, 13, "matvec_nibble") == 0;
      if (op.spec.size() != 3 || op.spec[0] != persistent_threads()) return fail(s + ": not shaped for the persistent step");
      if (mv_spec.empty()) mv_spec = op.spec;
      if (op.spec != mv_spec) return fail("matvecs of different shapes");
      g.kind = kMatvec;
    } else if (s == "wkv7_wo_f16" || s == "wkv7_wo_f32") {
      (s == "wkv7_wo_f16" ? f16 : f32) = true;
      wo_f32 |= s == "wkv7_wo_f32";
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
  // F32 matvecs run in step7_mixed too; an F32 output projection inside WKV-7 would not.
  if (mixed && wo_f32) return fail("Q8_0 matvecs beside an F32 WKV-7 output projection");
  if (!mixed && f16 && f32) return fail("matvecs of several weight types");
  if (wk_spec.empty()) wk_spec = {persistent_threads(), 64, persistent_threads() / 64, 4};
  out.shader = nibbles ? "step7_nibble" : mixed ? "step7_mixed" : f16 ? "step7_f16" : "step7_f32";
  out.spec = {persistent_threads(), mv_spec[1], mv_spec[2], wk_spec[1], wk_spec[2], wk_spec[3]};
  out.n_ops = uint32_t(n);
  return true;
}

void StepProfile::add(const std::vector<std::string>& labels, const uint32_t* t, uint32_t wgs) {
  const size_t n_ops = labels.size();
  if (!n_ops || !wgs) return;
  const uint32_t base = t[0];
  auto raw = [&](size_t k, uint32_t w, int which) { return t[(k * wgs + w) * kProfileWords + size_t(which)]; };
  auto at = [&](size_t k, uint32_t w, int which) { return double(int32_t(raw(k, w, which) - base)); };
  double last_done = -1e300, first_rel0 = 0;
  std::vector<double> done, finished;  // this op's workgroups' finishes; each op's last finish
  for (size_t k = 0; k < n_ops; ++k) {
    double rel_lo = 1e300, rel_hi = -1e300, done_hi = -1e300, mean = 0;
    done.clear();
    // The op's workgroups: those that stamped it (an op of one group leaves the others' words zero).
    for (uint32_t w = 0; w < wgs; ++w) {
      if (!raw(k, w, 0) && !raw(k, w, 1)) continue;
      const double r = at(k, w, 0), d = at(k, w, 1);
      rel_lo = std::min(rel_lo, r), rel_hi = std::max(rel_hi, r), done_hi = std::max(done_hi, d);
      mean += d - r;
      done.push_back(d);
    }
    if (done.empty()) continue;
    mean /= double(done.size());
    std::nth_element(done.begin(), done.begin() + done.size() / 2, done.end());
    if (k == 0) first_rel0 = rel_lo;
    if (!per_label.count(labels[k])) order.push_back(labels[k]);
    Sums& e = per_label[labels[k]];
    e.ops += 1;
    // The grid barrier's latency: from the last finish before this op's first release (ops of two groups
    // overlap: the op it waited for is the latest that had finished).
    double waited = -1e300;
    for (double d : finished)
      if (d <= rel_lo) waited = std::max(waited, d);
    if (k > 0 && waited > -1e300) e.barrier += rel_lo - waited;
    e.spread += rel_hi - rel_lo;
    e.work += done_hi - rel_lo;
    e.mean += mean;
    e.tail += done_hi - done[done.size() / 2];
    // WKV-7's phases (stamps 2..6, zero where a workgroup had no task): mean of each phase's length.
    for (uint32_t w = 0; w < wgs; ++w) {
      if (!raw(k, w, 6)) continue;
      double prev = at(k, w, 0);
      for (int ph = 2; ph <= 7; ++ph) {  // a phase not stamped (no LoRA here, ...) counts as 0
        if (ph < 7 && !raw(k, w, ph)) continue;
        const double now = at(k, w, ph == 7 ? 1 : ph);
        e.phase[ph - 2] += now - prev, prev = now;
      }
      e.phase_n += 1;
    }
    finished.push_back(done_hi);
    last_done = std::max(last_done, done_hi);
  }
  total += last_done - first_rel0;
}

std::string StepProfile::text(int steps) const {
  if (!steps || order.empty()) return "";
  std::string out;
  char line[320];
  std::snprintf(line, sizeof line, "  inside the persistent step (device clock, us per step): %.1f from the first release to the last finish\n",
                total / steps / 1e3);
  out += line;
  std::snprintf(line, sizeof line, "  %-36s %5s %9s %9s %9s %9s %9s\n", "op", "ops", "barrier", "spread", "work", "mean", "tail");
  out += line;
  for (const std::string& l : order) {
    const Sums& e = per_label.at(l);
    const double d = double(steps) * 1e3;
    std::snprintf(line, sizeof line, "  %-36s %5d %9.1f %9.1f %9.1f %9.1f %9.1f\n", l.c_str(), e.ops / steps, e.barrier / d,
                  e.spread / d, e.work / d, e.mean / d, e.tail / d);
    out += line;
    if (e.phase_n) {
      const double d = double(e.phase_n) * 1e3;  // us, mean over the (op, workgroup) pairs with a task
      std::snprintf(line, sizeof line, "    phases (mean us per op): LoRA %.2f, kk norm %.2f, state+y+norm %.2f, Wo partial (or state out) %.2f, partials out %.2f, reduce %.2f\n",
                    e.phase[0] / d, e.phase[1] / d, e.phase[2] / d, e.phase[3] / d, e.phase[4] / d, e.phase[5] / d);
      out += line;
    }
  }
  return out;
}

}  // namespace rwkv::vk
