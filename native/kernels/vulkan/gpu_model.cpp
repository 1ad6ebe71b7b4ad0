#include "kernels/vulkan/gpu_model.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <map>
#include <string>

#include "core/error.h"
#include "formats/rwkv_bin.h"
#include "kernels/vulkan/check.h"
#include "kernels/vulkan/gpu_layers.h"
#include "kernels/vulkan/ops.h"
#include "kernels/vulkan/persistent_step.h"
#include "kernels/vulkan/env_knobs.h"
#include "models/model_info.h"
#include "models/weight_binder.h"

namespace rwkv::vk {

namespace {

// One recorded token step: its command buffer and the matvec job table it reads; a persistent step
// (persistent_step.h) also its op table.
struct Step {
  VkCommandBuffer cb = VK_NULL_HANDLE;
  std::unique_ptr<Buffer> jobs, op_table;
  bool persistent = false;
  uint32_t arrivals = 0;  // persistent: the arrivals' count after a complete step, each op's workgroups summed (step7.comp)
  double wait_us[4] = {};  // how long a submission of this step with n command buffers took (submit_and_wait)
  // A profiled persistent step (profile_decode): each op's label and its (op, workgroup) times, copied out.
  std::vector<std::string> op_labels;
  std::unique_ptr<Buffer> prof, prof_host;
};

// Whether a persistent step ran as it should, from its sync words: no grid barrier gave up, and every
// workgroup arrived at every barrier and at the end. (On lavapipe the count can stop short while no barrier
// reports giving up: with several workgroups, or one that ran a long step; the count catches that.)
bool step_completed(const Step& s, const uint32_t* words) { return words[1] == 0 && words[0] == s.arrivals; }

// Workgroups of the persistent decode step: one per multiprocessor, so that all are resident at once
// (its grid barriers wait for every one of them). Mode (GpuOptions::persistent, or RWKV_VK_PERSISTENT):
// 0 off; 1 where the multiprocessor count is known; 2 also elsewhere, with RWKV_VK_PERSISTENT_WGS
// workgroups (default 1; lavapipe in tests: its workgroups did not all make progress at a grid barrier).
// Only RWKV-7 records the ops it runs.
uint32_t persistent_workgroups(const DeviceInfo& d, const ModelInfo& info, const GpuOptions& o) {
  static const uint32_t env_mode = env_uint("RWKV_VK_PERSISTENT", 1, 0, 2);
  static const uint32_t env_wgs = env_uint("RWKV_VK_PERSISTENT_WGS", 0, 1, 4096);
  const uint32_t mode = o.persistent >= 0 ? uint32_t(o.persistent) : env_mode;
  if (mode == 0 || info.version_major != 7 || info.n_embd > 2048) return 0;  // 4C floats staged in 32 KB
  const uint32_t wgs = o.persistent_workgroups > 0 ? uint32_t(o.persistent_workgroups) : env_wgs;
  if (wgs) return wgs;
  if (d.multiprocessors) return d.multiprocessors;
  return mode == 2 ? 1 : 0;
}
// The persistent step's side group (GpuOptions::persistent_side_workgroups): RWKV_VK_SIDE_WGS where set
// (0: none), else, from 32 workgroups up, a share that balances the two groups' paths: the side's is two
// short ops, each mostly latency, the main group's r, k, v products, which grow with C^2. H100, GPU replay
// ms per token, side group of 0 / 32 / 40 / 48 / 66 of 132: 1.5B FP16 1.593-1.605 / 1.536-1.554 / 1.537 /
// 1.563 / 1.601; 1.5B Q8_0 1.826 / 1.466 / - / 1.442 / 1.509; 0.4B FP16 0.863-0.865 / 0.841 / 0.836 / 0.826 /
// 0.815; 0.4B Q8_0 0.906 / - / - / 0.849 / 0.844 (88: 0.896); 0.1B FP16 0.422 / - / 0.408 / - / 0.409
// (BENCHMARKS.md). So 30% at C >= 2048, half below; none below 32 workgroups. As many as the step has: both
// groups are all of them, one after the other (tests on one workgroup).
uint32_t side_workgroups(uint32_t wgs, uint32_t C, const GpuOptions& o) {
  static const uint32_t env = env_uint("RWKV_VK_SIDE_WGS", 0xFFFFFFFFu, 0, 4096);
  const uint32_t share = C >= 2048 ? 30 : 50;  // percent
  const uint32_t n = o.persistent_side_workgroups >= 0 ? uint32_t(o.persistent_side_workgroups)
                     : env != 0xFFFFFFFFu                ? env
                     : wgs >= 32                         ? (wgs * share + 50) / 100
                                                         : 0;
  return n <= wgs ? n : 0;
}
// Polls of a grid barrier before it gives up (well under a second; never reached when all are resident).
constexpr uint32_t kSpinLimit = 1u << 20;

}  // namespace

struct GpuModel::Impl {
  ModelInfo info;
  int n = 0;
  bool head = false;
  uint32_t max_tokens = 64;
  std::unique_ptr<Device> device;
  std::unique_ptr<Pipelines> pipelines;
  std::unique_ptr<Arena> arena;
  std::unique_ptr<Uploader> up;
  std::unique_ptr<ScratchPlan> plan;
  std::unique_ptr<GpuLayers> layers;
  std::unique_ptr<Ops> ops;
  std::unique_ptr<Buffer> scratch, act_q, act_d;
  std::unique_ptr<Buffer> state, state_host, x_in_host, x_out_host, logits_host, v_first_host;
  Act x, head_in, logits;
  Slice ln_out_w, ln_out_b;
  GpuMatrix head_w;
  uint64_t weight_bytes = 0;
  uint64_t state_bytes = 0;
  std::map<std::pair<uint32_t, bool>, Step> steps;  // (T, with head)
  // The persistent decode step: its workgroups (0: off), and its words: [0, 16) the grid barrier's
  // counters (zeroed by every step), from 256 a zero vector (the head's norm prologue mixes with it).
  uint32_t persistent_wgs = 0;
  uint32_t side_wgs = 0;  // of them, the side group's (side_workgroups)
  uint32_t step_flags = 0;  // PersistentPC::flags (GpuOptions::persistent_flags)
  std::unique_ptr<Buffer> persist_flags_host;  // those counters, copied out by every persistent step (step_completed)
  std::unique_ptr<Buffer> persist_words;
  VkCommandBuffer state_up = VK_NULL_HANDLE, state_down = VK_NULL_HANDLE;
  const float* resident = nullptr;  // the state vector whose GPU copy is current
  uint64_t resident_generation = 0;
  // Batched decode: `batch_capacity` sequences' states (slot b = row b of a batched step), staging,
  // logits of every row, what each slot holds, and the recorded steps by (B, with head).
  uint32_t batch_capacity = 0;
  std::unique_ptr<Buffer> batch_state, batch_host, batch_logits_host;
  // Slot b: the CPU state whose copy it holds, that state's generation, and whether the GPU copy is the
  // newer one (eval_batch with download = false).
  struct Slot {
    float* state = nullptr;
    uint64_t generation = 0;
    bool dirty = false;
  };
  std::vector<Slot> slots;
  // Such a slot is downloaded into its owner before the slot is given to another state, and by
  // sync_batch_state(); the engine syncs every state before its memory goes away.
  std::map<std::pair<uint32_t, bool>, Step> batch_steps;

  // Downloads the dirty slots among `which` into their owners' CPU states and marks them clean.
  void download_slots(const std::vector<int>& which);
  // Downloads every dirty slot (before the slots are reset or reassigned wholesale).
  void flush_slots();

  ~Impl() {
    if (!device) return;
    vk().vkDeviceWaitIdle(device->handle());
    for (auto& [key, s] : steps) device->free_command_buffer(s.cb);
    for (auto& [key, s] : batch_steps) device->free_command_buffer(s.cb);
    device->free_command_buffer(state_up);
    device->free_command_buffer(state_down);
  }

  Step& step(uint32_t T, bool with_head);
  Step& batch_step(uint32_t B, bool with_head);
  void reserve_batch(uint32_t B);
  Step record_step(uint32_t T, bool with_head, VkQueryPool pool, uint32_t pool_size, std::vector<std::string>* labels,
                   bool batched = false);
  VkCommandBuffer record_copy(const Slice& src, const Slice& dst, uint64_t bytes);
  // Captures layers + head as a persistent step into `s` (s.persistent false when it cannot run them).
  PersistentStep capture_persistent(Step& s, bool with_head);
  void record_head(const Act& x_last, bool prologue);
  // Runs the decode step once; false when a grid barrier gave up (workgroups not all resident).
  bool persistent_step_works();
  // One-token steps as a dispatch per op from now on (the persistent step did not complete).
  // A step that did not complete also left WKV-7's reduction counters (wkv7.glsl WO_FUSE, in the
  // scratch) short of zero, which the dispatches read next: the scratch is zeroed again.
  void stop_persistent() {
    persistent_wgs = 0;
    drop_steps();
    zero_scratch();
  }
  void drop_steps();
  // Zeroed scratch: padding columns are read (times zero weights) by the vec4 / block loads, and split
  // reductions count workgroups in at counters that every complete step leaves at zero.
  void zero_scratch() {
    VkCommandBuffer cb = device->allocate_command_buffer();
    {
      Recorder rec(*device, *pipelines, cb);
      rec.begin();
      rec.fill_zero(whole(*scratch));
      rec.fill_zero(whole(*act_q));
      rec.fill_zero(whole(*act_d));
      if (persist_words) rec.fill_zero(whole(*persist_words));
      rec.end();
    }
    device->submit_and_wait(&cb, 1);
    device->free_command_buffer(cb);
  }
};

PersistentStep GpuModel::Impl::capture_persistent(Step& s, bool with_head) {
  PersistentStep ps;
  const uint32_t C = uint32_t(info.n_embd);
  ops->begin_persistent(persistent_wgs, persistent_threads(), C, layers->matrix_dtype(), side_wgs);
  try {
    const uint64_t per_layer = uint64_t(info.state_floats_per_layer()) * 4;
    for (int l = 0; l < n; ++l) layers->record(l, *ops, x, state->address() + uint64_t(l) * per_layer);
    if (with_head) record_head(x, true);
  } catch (...) {
    ops->end_persistent();
    throw;
  }
  const std::vector<Ops::CapturedOp> captured = ops->end_persistent();
  s.op_table = std::make_unique<Buffer>(*device, persistent_table_bytes(captured.size()), Buffer::Kind::Device);
  std::string why;
  s.persistent = plan_persistent_step(captured, s.op_table->address(), persistent_wgs, side_wgs, ps, &why);
  if (!s.persistent && std::getenv("RWKV_VK_PERSISTENT_DEBUG")) std::fprintf(stderr, "vulkan: no persistent step: %s\n", why.c_str());
  if (!s.persistent) s.op_table.reset();
  return ps;
}

// The head: LN_out, then logits = head · normed row. `prologue`: as one matvec with the norm in its
// prologue (mixing with a zero vector), the form the persistent step runs.
void GpuModel::Impl::record_head(const Act& x_last, bool prologue) {
  const uint32_t C = uint32_t(info.n_embd);
  ops->set_label("head");
  if (prologue) {
    const VkDeviceAddress zeros = persist_words->address() + 256;
    const LnPrologue pre{x_last, ln_out_w.address, ln_out_b.address, zeros, head_in, C, 1e-5f};
    MatJob j{&head_w, head_in, logits};
    j.mix = zeros;
    ops->matvec({j}, &pre);
    return;
  }
  const MixSpec norm{.write_ln = true, .ln = head_in};
  ops->layer_norm_mix(x_last, 1, ln_out_w.address, ln_out_b.address, C, 1e-5f, norm);
  ops->matvec({{&head_w, head_in, logits}});
}

bool GpuModel::Impl::persistent_step_works() {
  Step& s = step(1, head);
  if (!s.persistent) return true;
  std::memset(x_in_host->mapped(), 0, size_t(info.n_embd) * 4);
  device->submit_and_wait(&s.cb, 1);  // the step copies its sync words to persist_flags_host
  const uint32_t* w = static_cast<const uint32_t*>(persist_flags_host->mapped());
  resident = nullptr;  // the check ran on whatever the GPU state held: the next eval uploads
  const bool ok = step_completed(s, w);
  if (!ok || std::getenv("RWKV_VK_PERSISTENT_DEBUG"))
    std::fprintf(stderr, "vulkan: persistent step check: %u arrivals of %u, gave up: %u\n", w[0], s.arrivals, w[1]);
  return ok;
}

void GpuModel::Impl::drop_steps() {
  vk().vkDeviceWaitIdle(device->handle());
  for (auto& [key, s] : steps) device->free_command_buffer(s.cb);
  steps.clear();
}

VkCommandBuffer GpuModel::Impl::record_copy(const Slice& src, const Slice& dst, uint64_t bytes) {
  VkCommandBuffer cb = device->allocate_command_buffer();
  Recorder rec(*device, *pipelines, cb);
  rec.begin();
  rec.barrier();  // after the previous step's writes, before the next step's reads
  rec.copy(src, dst, bytes);
  rec.barrier();
  rec.end();
  return cb;
}

Step& GpuModel::Impl::step(uint32_t T, bool with_head) {
  auto key = std::make_pair(T, with_head);
  if (auto it = steps.find(key); it != steps.end()) return it->second;
  Step s = record_step(T, with_head, VK_NULL_HANDLE, 0, nullptr);
  return steps.emplace(key, std::move(s)).first->second;
}

Step& GpuModel::Impl::batch_step(uint32_t B, bool with_head) {
  reserve_batch(B);
  auto key = std::make_pair(B, with_head);
  if (auto it = batch_steps.find(key); it != batch_steps.end()) return it->second;
  Step s = record_step(B, with_head, VK_NULL_HANDLE, 0, nullptr, true);
  return batch_steps.emplace(key, std::move(s)).first->second;
}

// Batch state slots for at least B sequences (zeroed); growing re-records the batched steps, which
// hold the old buffer's address, and forgets what the slots held.
void GpuModel::Impl::reserve_batch(uint32_t B) {
  if (B <= batch_capacity) return;
  flush_slots();  // the old buffer's states go home before it is replaced
  const uint32_t cap = std::min(max_tokens, std::max(B, (B + 7) / 8 * 8));
  vk().vkDeviceWaitIdle(device->handle());
  for (auto& [key, s] : batch_steps) device->free_command_buffer(s.cb);
  batch_steps.clear();
  batch_state.reset();
  batch_host.reset();
  batch_state = std::make_unique<Buffer>(*device, state_bytes * cap, Buffer::Kind::Device);
  batch_host = std::make_unique<Buffer>(*device, state_bytes * cap, Buffer::Kind::Host);
  if (head) batch_logits_host = std::make_unique<Buffer>(*device, uint64_t(info.n_vocab) * 4 * cap, Buffer::Kind::Host);
  VkCommandBuffer cb = device->allocate_command_buffer();
  {
    Recorder rec(*device, *pipelines, cb);
    rec.begin();
    rec.fill_zero(whole(*batch_state));
    rec.end();
  }
  device->submit_and_wait(&cb, 1);
  device->free_command_buffer(cb);
  batch_capacity = cap;
  slots.assign(cap, Slot{});
}

void GpuModel::Impl::download_slots(const std::vector<int>& which) {
  std::vector<int> dirty;
  for (int b : which)
    if (slots[size_t(b)].dirty && slots[size_t(b)].state) dirty.push_back(b);
  if (dirty.empty()) return;
  VkCommandBuffer cb = device->allocate_command_buffer();
  {
    Recorder rec(*device, *pipelines, cb);
    rec.begin();
    rec.barrier();
    for (int b : dirty)
      rec.copy(sub(whole(*batch_state), uint64_t(b) * state_bytes, state_bytes),
               sub(whole(*batch_host), uint64_t(b) * state_bytes, state_bytes), state_bytes);
    rec.barrier();
    rec.end();
  }
  try {
    device->submit_and_wait(&cb, 1);
  } catch (...) {
    device->free_command_buffer(cb);
    throw;
  }
  device->free_command_buffer(cb);
  const uint8_t* staging = static_cast<const uint8_t*>(batch_host->mapped());
  for (int b : dirty) {
    std::memcpy(slots[size_t(b)].state, staging + uint64_t(b) * state_bytes, state_bytes);
    slots[size_t(b)].dirty = false;
  }
}

void GpuModel::Impl::flush_slots() {
  std::vector<int> all(slots.size());
  for (size_t b = 0; b < slots.size(); ++b) all[b] = int(b);
  download_slots(all);
}

Step GpuModel::Impl::record_step(uint32_t T, bool with_head, VkQueryPool pool, uint32_t pool_size,
                                 std::vector<std::string>* labels, bool batched) {
  Step s;
  // Generous bound on the job table: no layer of any version has more than 16 matvec jobs.
  s.jobs = std::make_unique<Buffer>(*device, uint64_t(n + 1) * 16 * 128, Buffer::Kind::Device);  // entries of 120 bytes
  s.cb = device->allocate_command_buffer();
  try {
    const uint32_t C = uint32_t(info.n_embd);
    Recorder rec(*device, *pipelines, s.cb);
    rec.begin();
    if (pool) rec.profile_into(pool, pool_size, labels);
    ops->set_job_table(whole(*s.jobs));
    // Batched: row b is sequence b, its state in slot b of batch_state.
    const uint64_t seq_floats = uint64_t(info.state_floats_per_layer()) * uint64_t(n);
    if (batched && seq_floats * T >= (1ull << 32)) throw Error(ErrorCode::Internal, "batch state too large for 32-bit indices");
    ops->begin(rec, T, batched ? uint32_t(seq_floats) : 0u);
    PersistentStep ps;
    if (persistent_wgs && T == 1 && !batched) {
      ps = capture_persistent(s, with_head);
      if (!s.persistent) ops->set_job_table(whole(*s.jobs));  // drop the capture's jobs
      if (s.persistent && pool && device->info().device_clock) {  // profile_decode: times inside the step
        const uint64_t bytes = uint64_t(ps.n_ops) * persistent_wgs * kProfileWords * 4;
        s.prof = std::make_unique<Buffer>(*device, bytes, Buffer::Kind::Device);
        s.prof_host = std::make_unique<Buffer>(*device, bytes, Buffer::Kind::Host);
      }
    }
    rec.barrier();
    rec.copy(whole(*x_in_host), ops->slice(x, uint64_t(T) * C), uint64_t(T) * C * 4);
    if (s.persistent) rec.fill_zero(sub(whole(*persist_words), 0, 16));
    if (s.prof) rec.fill_zero(whole(*s.prof));
    rec.barrier();
    if (s.persistent) {
      // RWKV_VK_PERSISTENT_OPS=K: only the first K ops (timing experiments; results wrong).
      static const uint32_t op_limit = env_uint("RWKV_VK_PERSISTENT_OPS", 0, 0, 1u << 20);
      const uint32_t n_ops = op_limit ? std::min(op_limit, ps.n_ops) : ps.n_ops;
      PersistentPC pc{s.op_table->address(), persist_words->address(), n_ops, kSpinLimit, 0, step_flags, 0};
      s.arrivals = ps.arrivals[n_ops];
      std::string shader = ps.shader;
      if (s.prof) {
        s.op_labels.assign(ps.labels.begin(), ps.labels.begin() + n_ops);
        pc.prof = s.prof->address();
        shader += "_prof";
      }
      rec.dispatch(pipelines->get(shader, ps.spec), pc, persistent_wgs, "step7");
    } else {
      const uint64_t per_layer = uint64_t(info.state_floats_per_layer()) * 4;
      const VkDeviceAddress state_base = batched ? batch_state->address() : state->address();
      for (int l = 0; l < n; ++l) layers->record(l, *ops, x, state_base + uint64_t(l) * per_layer);
    }
    rec.barrier();  // the ops end with compute-only barriers; the copies below read their results
    if (s.persistent) rec.copy(sub(whole(*persist_words), 0, 16), whole(*persist_flags_host), 16);
    if (s.prof) rec.copy(whole(*s.prof), whole(*s.prof_host), s.prof->size());
    rec.copy(ops->slice(x, uint64_t(T) * C), whole(*x_out_host), uint64_t(T) * C * 4);
    if (v_first_host) {
      const Act* vf = layers->v_first();
      rec.copy_rows(ops->slice(*vf, uint64_t(T) * vf->stride), uint64_t(vf->stride) * 4, whole(*v_first_host),
                    uint64_t(C) * 4, T, uint64_t(C) * 4);
    }
    if (with_head && s.persistent) {  // the head ran inside the step
      rec.copy(ops->slice(logits, uint64_t(info.n_vocab)), whole(*logits_host), uint64_t(info.n_vocab) * 4);
    } else if (with_head && batched) {  // logits of every row
      ops->begin(rec, T);
      ops->set_label("head");
      const MixSpec norm{.write_ln = true, .ln = head_in};
      ops->layer_norm_mix(x, T, ln_out_w.address, ln_out_b.address, C, 1e-5f, norm);
      ops->matvec({{&head_w, head_in, logits}});
      rec.barrier();
      const uint64_t V = uint64_t(info.n_vocab);
      rec.copy_rows(ops->slice(logits, uint64_t(T) * logits.stride), uint64_t(logits.stride) * 4, whole(*batch_logits_host),
                    V * 4, T, V * 4);
    } else if (with_head) {
      ops->begin(rec, 1);  // logits of the last token only
      record_head(x.at(uint64_t(T - 1) * C), false);
      rec.barrier();
      rec.copy(ops->slice(logits, uint64_t(info.n_vocab)), whole(*logits_host), uint64_t(info.n_vocab) * 4);
    }
    ops->set_label("");
    rec.end();
    const std::vector<uint8_t>& table = ops->job_bytes();
    if (!table.empty()) up->upload(whole(*s.jobs), 0, table.data(), table.size());
    if (s.persistent) up->upload(whole(*s.op_table), 0, ps.table.data(), ps.table.size());
    up->flush();
  } catch (...) {
    device->free_command_buffer(s.cb);
    throw;
  }
  return s;
}

GpuModel::GpuModel() : impl_(std::make_unique<Impl>()) {}
GpuModel::~GpuModel() = default;

std::unique_ptr<GpuModel> GpuModel::create(const TensorIndex& index, const ModelInfo& info, const GpuOptions& o) {
  if (o.layers <= 0) throw Error(ErrorCode::Argument, "gpuOffload must be at least 1 to create a GPU model");
  std::unique_ptr<GpuModel> g(new GpuModel());
  Impl& m = *g->impl_;
  m.info = info;
  m.n = std::min(o.layers, info.n_layer);
  m.head = m.n == info.n_layer;
  m.max_tokens = uint32_t(std::clamp(o.max_tokens, 1, 4096));
  m.device = Device::create(o.device, o.int_dot);
  m.pipelines = std::make_unique<Pipelines>(*m.device);
  m.arena = std::make_unique<Arena>(*m.device, 256ull << 20);
  m.up = std::make_unique<Uploader>(*m.device);
  m.plan = std::make_unique<ScratchPlan>(m.max_tokens);

  const int64_t C = info.n_embd;
  WeightBinder w(index, "model");
  LayerBuild build{w, m.info, m.n, *m.arena, *m.up, *m.plan};
  switch (info.version_major) {
    case 4: m.layers = make_gpu_v4(build); break;
    case 5: m.layers = make_gpu_v5(build); break;
    case 6: m.layers = make_gpu_v6(build); break;
    case 7: m.layers = make_gpu_v7(build); break;
    default: throw Error(ErrorCode::Version, "no GPU path for RWKV version " + info.version_string());
  }
  m.weight_bytes = build.weight_bytes;
  m.x = m.plan->plane(C, false);  // unpadded: copied to and from the host as one block
  m.head_in = m.plan->plane(C);
  if (m.head) {
    m.ln_out_w = upload_floats(*m.arena, *m.up, w.vec("ln_out.weight", C));
    m.ln_out_b = upload_floats(*m.arena, *m.up, w.vec("ln_out.bias", C));
    m.head_w = upload_matrix(*m.arena, *m.up, w.mat("head.weight", C, info.n_vocab));
    m.weight_bytes += m.head_w.bytes;
    m.logits = m.plan->plane(info.n_vocab);
  }
  m.up->flush();
  // gemm_few.comp's reduction area (batched decoding on a device with cooperative matrices).
  Act few_area{};
  if (m.device->coop_matrix()) few_area = m.plan->flat(Ops::few_area_floats());

  // Scratch, and its 8-bit companions for quantized weights (same element offsets; one (d, s) per 32).
  const uint64_t floats = m.plan->floats() + 64;
  m.scratch = std::make_unique<Buffer>(*m.device, floats * 4, Buffer::Kind::Device);
  m.act_q = std::make_unique<Buffer>(*m.device, floats, Buffer::Kind::Device);
  m.act_d = std::make_unique<Buffer>(*m.device, (floats / 32 + 1) * 8, Buffer::Kind::Device);
  m.ops = std::make_unique<Ops>(*m.device, *m.pipelines, *m.plan, whole(*m.scratch), whole(*m.act_q), whole(*m.act_d));
  if (m.device->coop_matrix()) m.ops->set_few_area(few_area);
  m.persistent_wgs = persistent_workgroups(m.device->info(), info, o);
  m.side_wgs = side_workgroups(m.persistent_wgs, uint32_t(info.n_embd), o);
  m.step_flags = o.persistent_flags >= 0 ? uint32_t(o.persistent_flags) : persistent_step_flags();
  if (m.persistent_wgs) {
    m.persist_words = std::make_unique<Buffer>(*m.device, 256 + uint64_t(C) * 4, Buffer::Kind::Device);
    m.persist_flags_host = std::make_unique<Buffer>(*m.device, 16, Buffer::Kind::Host);
  }

  m.state_bytes = uint64_t(info.state_floats_per_layer()) * uint64_t(m.n) * 4;
  m.state = std::make_unique<Buffer>(*m.device, m.state_bytes, Buffer::Kind::Device);
  m.state_host = std::make_unique<Buffer>(*m.device, m.state_bytes, Buffer::Kind::Host);
  m.x_in_host = std::make_unique<Buffer>(*m.device, uint64_t(m.max_tokens) * C * 4, Buffer::Kind::Host);
  m.x_out_host = std::make_unique<Buffer>(*m.device, uint64_t(m.max_tokens) * C * 4, Buffer::Kind::Host);
  m.logits_host = std::make_unique<Buffer>(*m.device, uint64_t(info.n_vocab) * 4, Buffer::Kind::Host);
  if (!m.head && m.layers->v_first())
    m.v_first_host = std::make_unique<Buffer>(*m.device, uint64_t(m.max_tokens) * C * 4, Buffer::Kind::Host);
  m.state_up = m.record_copy(whole(*m.state_host), whole(*m.state), m.state_bytes);
  m.state_down = m.record_copy(whole(*m.state), whole(*m.state_host), m.state_bytes);

  m.zero_scratch();
  m.step(1, m.head);  // the decode step: build its pipelines now rather than on the first token
  // A step that did not complete means the workgroups were not all resident: dispatches instead.
  if (o.persistent_check && !m.persistent_step_works() && !m.persistent_step_works()) {
    m.stop_persistent();
    m.step(1, m.head);
  }
  return g;
}

int GpuModel::layers() const { return impl_->n; }
bool GpuModel::persistent_decode() const {
  auto it = impl_->steps.find({1u, impl_->head});
  return it != impl_->steps.end() && it->second.persistent;
}
bool GpuModel::runs_head() const { return impl_->head; }
const DeviceInfo& GpuModel::device() const { return impl_->device->info(); }
uint64_t GpuModel::weight_bytes() const { return impl_->weight_bytes; }

void GpuModel::eval(const float* x_in, int64_t T, float* state, float* x_out, float* logits, const StateSync& sync,
                    std::vector<float>* v_first) {
  Impl& m = *impl_;
  if (T <= 0) return;
  const int64_t C = m.info.n_embd;
  // A batch slot holding a newer copy of this state: bring it home first, then this path owns the state.
  for (size_t b = 0; b < m.slots.size(); ++b)
    if (m.slots[b].state == state) {
      if (m.slots[b].dirty) m.download_slots({int(b)});
      m.slots[b] = {};  // the batch copy falls behind this one
    }
  const bool upload = !(sync.generation != 0 && state == m.resident && sync.generation == m.resident_generation);
  m.resident = nullptr;  // until this call completes
  if (v_first && m.v_first_host) v_first->resize(size_t(T * C));
  for (int64_t start = 0; start < T; start += m.max_tokens) {
    const uint32_t n = uint32_t(std::min<int64_t>(m.max_tokens, T - start));
    const bool first = start == 0, last = start + n == T;
    Step& s = m.step(n, m.head && last && logits);
    std::memcpy(m.x_in_host->mapped(), x_in + start * C, size_t(n * C) * 4);
    VkCommandBuffer cbs[3];
    uint32_t count = 0;
    if (first && upload) {
      std::memcpy(m.state_host->mapped(), state, m.state_bytes);
      cbs[count++] = m.state_up;
    }
    cbs[count++] = s.cb;
    if (last && sync.download) cbs[count++] = m.state_down;
    m.device->submit_and_wait(cbs, count, &s.wait_us[count]);
    if (s.persistent && !step_completed(s, static_cast<const uint32_t*>(m.persist_flags_host->mapped()))) {
      // A grid barrier gave up or was passed early: the workgroups were not all resident (the check at
      // load passed, so something else took multiprocessors, e.g. another process on a shared GPU). The
      // step's results are wrong; one-token steps run as dispatches from now on.
      m.stop_persistent();
      std::fprintf(stderr, "vulkan: the persistent decode step's workgroups were not all resident (a shared GPU?); "
                           "one-token steps now run a dispatch per op\n");
      // The state came from `state` in this call, which is untouched: run the call again. Otherwise the
      // GPU held the only current copy, and the broken step overwrote it.
      if (first && upload) return eval(x_in, T, state, x_out, logits, sync, v_first);
      throw Error(ErrorCode::Device, "the GPU decode step failed (its workgroups were not all resident) and the "
                                     "sequence's state on the GPU is lost; later calls run without the persistent step");
    }
    if (x_out) std::memcpy(x_out + start * C, m.x_out_host->mapped(), size_t(n * C) * 4);
    if (v_first && m.v_first_host) std::memcpy(v_first->data() + start * C, m.v_first_host->mapped(), size_t(n * C) * 4);
    if (last && m.head && logits) std::memcpy(logits, m.logits_host->mapped(), size_t(m.info.n_vocab) * 4);
    if (last && sync.download) std::memcpy(state, m.state_host->mapped(), m.state_bytes);
  }
  m.resident = state;
  m.resident_generation = sync.generation;
}

void GpuModel::sync_state(float* state) {
  Impl& m = *impl_;
  m.device->submit_and_wait(&m.state_down, 1);
  std::memcpy(state, m.state_host->mapped(), m.state_bytes);
}

bool GpuModel::can_batch(int B) const {
  return impl_->info.version_major == 7 && B >= 2 && uint32_t(B) <= impl_->max_tokens;
}

void GpuModel::eval_batch(const float* x_in, int B, float* const* states, const uint64_t* generations, float* x_out,
                          float* const* logits, bool download, std::vector<float>* v_first) {
  Impl& m = *impl_;
  if (!can_batch(B)) throw Error(ErrorCode::Internal, "eval_batch: no batched GPU path for this model or batch size");
  const int64_t C = m.info.n_embd;
  const bool want_logits = m.head && logits;
  // Dirty slots that this step gives to another state (or to none) go home first: a sequence that left
  // or moved to another row, or one whose caller no longer tracks it by generation.
  if (uint32_t(B) > m.batch_capacity) {
    m.flush_slots();
  } else {
    std::vector<int> leaving;
    for (int b = 0; b < int(m.slots.size()); ++b) {
      const Impl::Slot& slot = m.slots[size_t(b)];
      if (slot.dirty && (b >= B || slot.state != states[b] || slot.generation != generations[b] || generations[b] == 0))
        leaving.push_back(b);
    }
    m.download_slots(leaving);
  }
  Step& s = m.batch_step(uint32_t(B), want_logits);
  std::memcpy(m.x_in_host->mapped(), x_in, size_t(B * C) * 4);
  // Uploads: every slot whose copy is not this sequence's current state, in one command buffer.
  uint8_t* staging = static_cast<uint8_t*>(m.batch_host->mapped());
  VkCommandBuffer up = VK_NULL_HANDLE, down = VK_NULL_HANDLE;
  std::vector<int> upload;
  for (int b = 0; b < B; ++b) {
    const auto& slot = m.slots[size_t(b)];
    if (!(generations[b] != 0 && slot.state == states[b] && slot.generation == generations[b])) upload.push_back(b);
    if (states[b] == m.resident) m.resident = nullptr;  // eval()'s copy falls behind this one
  }
  for (int b = B; b < int(m.slots.size()); ++b)
    for (int k = 0; k < B; ++k)
      if (m.slots[size_t(b)].state == states[k]) m.slots[size_t(b)] = {};
  VkCommandBuffer cbs[3];
  uint32_t count = 0;
  if (!upload.empty()) {
    up = m.device->allocate_command_buffer();
    Recorder rec(*m.device, *m.pipelines, up);
    rec.begin();
    rec.barrier();
    for (int b : upload) {
      std::memcpy(staging + uint64_t(b) * m.state_bytes, states[b], m.state_bytes);
      rec.copy(sub(whole(*m.batch_host), uint64_t(b) * m.state_bytes, m.state_bytes),
               sub(whole(*m.batch_state), uint64_t(b) * m.state_bytes, m.state_bytes), m.state_bytes);
    }
    rec.barrier();
    rec.end();
    cbs[count++] = up;
  }
  cbs[count++] = s.cb;
  if (download) {
    down = m.device->allocate_command_buffer();
    Recorder rec(*m.device, *m.pipelines, down);
    rec.begin();
    rec.barrier();
    rec.copy(whole(*m.batch_state), whole(*m.batch_host), m.state_bytes * uint64_t(B));
    rec.barrier();
    rec.end();
    cbs[count++] = down;
  }
  for (int b = 0; b < B; ++b) m.slots[size_t(b)] = {};  // until the step completes
  try {
    m.device->submit_and_wait(cbs, count, &s.wait_us[count]);
  } catch (...) {
    if (up) m.device->free_command_buffer(up);
    if (down) m.device->free_command_buffer(down);
    throw;
  }
  if (up) m.device->free_command_buffer(up);
  if (down) m.device->free_command_buffer(down);
  if (x_out) std::memcpy(x_out, m.x_out_host->mapped(), size_t(B * C) * 4);
  if (v_first && m.v_first_host) {
    v_first->resize(size_t(B * C));
    std::memcpy(v_first->data(), m.v_first_host->mapped(), size_t(B * C) * 4);
  }
  if (want_logits) {
    const size_t V = size_t(m.info.n_vocab);
    const float* src = static_cast<const float*>(m.batch_logits_host->mapped());
    for (int b = 0; b < B; ++b)
      if (logits[b]) std::memcpy(logits[b], src + size_t(b) * V, V * 4);
  }
  for (int b = 0; b < B; ++b) {
    if (download) std::memcpy(states[b], staging + uint64_t(b) * m.state_bytes, m.state_bytes);
    m.slots[size_t(b)] = {states[b], generations[b], !download};
  }
}

bool GpuModel::sync_batch_state(float* state) {
  Impl& m = *impl_;
  for (size_t b = 0; b < m.slots.size(); ++b)
    if (m.slots[b].state == state && m.slots[b].dirty) {
      m.download_slots({int(b)});
      return true;
    }
  return false;
}

double GpuModel::time_decode_batch_steps(int B, int n) {
  Impl& m = *impl_;
  if (!can_batch(B)) throw Error(ErrorCode::Internal, "time_decode_batch_steps: no batched GPU path");
  m.flush_slots();  // the timed steps overwrite every slot
  Step& s = m.batch_step(uint32_t(B), m.head);
  std::vector<VkCommandBuffer> cbs(size_t(std::max(1, n)), s.cb);
  const auto t0 = std::chrono::steady_clock::now();
  m.device->submit_and_wait(cbs.data(), uint32_t(cbs.size()));
  const auto t1 = std::chrono::steady_clock::now();
  for (auto& slot : m.slots) slot = {};  // the slots moved on without their owners
  return std::chrono::duration<double>(t1 - t0).count() / double(cbs.size());
}

double GpuModel::time_decode_steps(int n) {
  Impl& m = *impl_;
  Step& s = m.step(1, m.head);
  std::vector<VkCommandBuffer> cbs(size_t(std::max(1, n)), s.cb);
  const auto t0 = std::chrono::steady_clock::now();
  m.device->submit_and_wait(cbs.data(), uint32_t(cbs.size()));
  const auto t1 = std::chrono::steady_clock::now();
  m.resident = nullptr;  // the GPU state moved on without the caller
  return std::chrono::duration<double>(t1 - t0).count() / double(cbs.size());
}

std::string GpuModel::shader_statistics(const std::string& prefix) const { return impl_->pipelines->statistics(prefix); }

std::string GpuModel::profile_decode(int reps, int T, bool batched) {
  Impl& m = *impl_;
  T = std::clamp<int>(T, 1, int(m.max_tokens));
  batched = batched && T > 1 && can_batch(T);
  if (batched) {
    m.flush_slots();  // the states they hold go home first
    m.reserve_batch(uint32_t(T));
  }
  const uint32_t capacity = uint32_t(m.n + 2) * 64;
  auto qci = make<VkQueryPoolCreateInfo>(VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO);
  qci.queryType = VK_QUERY_TYPE_TIMESTAMP;
  qci.queryCount = capacity;
  VkQueryPool pool = VK_NULL_HANDLE;
  VK_CHECK("vkCreateQueryPool", vk().vkCreateQueryPool(m.device->handle(), &qci, nullptr, &pool));
  std::vector<std::string> labels;
  Step s = m.record_step(uint32_t(T), m.head, pool, capacity, &labels, batched);
  std::map<std::string, std::pair<int, double>> per_label;  // label -> (dispatches, ns)
  double total = 0;
  StepProfile inside;
  for (int r = 0; r < std::max(2, reps); ++r) {
    m.device->submit_and_wait(&s.cb, 1);
    if (r == 0) continue;  // warm-up
    if (s.prof_host) inside.add(s.op_labels, static_cast<const uint32_t*>(s.prof_host->mapped()), m.persistent_wgs);
    std::vector<uint64_t> ts(labels.size() + 1);
    VK_CHECK("vkGetQueryPoolResults",
             vk().vkGetQueryPoolResults(m.device->handle(), pool, 0, uint32_t(ts.size()), ts.size() * 8, ts.data(), 8,
                                        VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    const double period = m.device->properties().limits.timestampPeriod;
    for (size_t i = 0; i < labels.size(); ++i) {
      auto& e = per_label[labels[i]];
      e.first += 1;
      e.second += double(ts[i + 1] - ts[i]) * period;
    }
    total += double(ts.back() - ts.front()) * period;
  }
  m.device->free_command_buffer(s.cb);
  vk().vkDestroyQueryPool(m.device->handle(), pool, nullptr);
  m.resident = nullptr;
  if (batched)
    for (auto& slot : m.slots) slot = {};  // the slots moved on without their owners
  const int runs = std::max(2, reps) - 1;
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%s step (T=%d): %zu dispatches, %.1f us on the GPU (timestamps)\n",
                T == 1 ? "decode" : batched ? "batched" : "sequence", T,
                labels.size(), total / runs / 1e3);
  out += line;
  for (const auto& [label, e] : per_label) {
    std::snprintf(line, sizeof line, "  %-28s %5d dispatches %9.1f us  (%.2f us each)\n", label.c_str(), e.first / runs,
                  e.second / runs / 1e3, e.second / e.first / 1e3);
    out += line;
  }
  if (s.prof_host) out += inside.text(runs);
  return out;
}

}  // namespace rwkv::vk
