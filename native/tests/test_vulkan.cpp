// The Vulkan backend against the CPU path: every shader op on random data, and whole models (every
// tiny model, all and half of the layers offloaded) logit for logit. Runs on any Vulkan device,
// lavapipe included (CI); skipped, with the reason, where none is usable.
//
// Tolerances. The GPU does the same operations in the same order per element, but sums dot products
// and norms in a different order (subgroup trees instead of 8 running sums), uses the GPU's exp/tanh
// (a few ulp), and rounds activations to 8 bits with a division that may differ by an ulp (which can
// move a value across a rounding boundary, changing one q by 1). Per op that is ~1e-6 relative; the
// logits of a 12-layer model then agree to ~1e-4 absolute (measured values are printed).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "core/tensor.h"
#include "engine.h"
#include "kernels/cpu/matvec.h"
#include "formats/rwkv_bin.h"
#include "formats/rwkv_bin_writer.h"
#include "kernels/vulkan/gpu_model.h"
#include "kernels/vulkan/ops.h"
#include "kernels/vulkan/persistent_step.h"
#include "models/architecture.h"
#include "kernels/vulkan/pipeline.h"
#include "quantize/quantize_blocks.h"
#include "synthetic/synthetic_model.h"
#include "test_support.h"

using namespace rwkv;

namespace {

// The device the tests use: RWKV_TEST_VULKAN_DEVICE, else the first usable one of any type (lavapipe
// on CI). Empty `why` when one exists.
int test_device(std::string* why) {
  if (const char* e = std::getenv("RWKV_TEST_VULKAN_DEVICE"); e && *e) return std::atoi(e);
  std::string err;
  const auto devices = vk::list_devices(&err);
  for (const auto& d : devices)
    if (d.usable) return d.index;
  *why = devices.empty() ? "no Vulkan: " + err : "no usable Vulkan device (" + devices[0].name + ": " + devices[0].why_not + ")";
  return -1;
}

#define REQUIRE_VULKAN(dev)                          \
  std::string why_;                                  \
  const int dev = test_device(&why_);                \
  if (dev < 0) GTEST_SKIP() << why_;

// Runs `prompt` through the CPU engine and through a GPU model of `gpu_layers` layers + the CPU for the
// rest, token by token (steps of 1) and as one sequence; returns max |delta| of the final logits and
// of the final states.
struct Compare {
  float logits = 0, state = 0;
};

Compare compare_model(const std::string& path, int gpu_layers, int dev, const std::vector<uint32_t>& prompt, bool sequence) {
  auto cpu = Model::load(path, {.threads = 2});
  auto gpu = Model::load(path, {.threads = 2, .gpu_layers = gpu_layers, .gpu_device = dev, .gpu_required = true});
  EXPECT_EQ(gpu->gpu_layers(), std::min(gpu_layers, cpu->info().n_layer));
  std::vector<float> s_cpu = cpu->initial_state(), l_cpu(size_t(cpu->info().n_vocab));
  std::vector<float> s_gpu = gpu->initial_state(), l_gpu(size_t(cpu->info().n_vocab));
  // Sequence mode in chunks of 5: several GPU steps per call, and a last one of another length.
  if (sequence) {
    cpu->eval(prompt.data(), prompt.size(), s_cpu.data(), l_cpu.data(), 5);
    gpu->eval(prompt.data(), prompt.size(), s_gpu.data(), l_gpu.data(), 5);
  } else {
    for (uint32_t t : prompt) cpu->eval(&t, 1, s_cpu.data(), l_cpu.data());
    for (uint32_t t : prompt) gpu->eval(&t, 1, s_gpu.data(), l_gpu.data());
  }
  Compare c;
  for (size_t i = 0; i < l_cpu.size(); ++i) c.logits = std::max(c.logits, std::fabs(l_cpu[i] - l_gpu[i]));
  for (size_t i = 0; i < s_cpu.size(); ++i) c.state = std::max(c.state, std::fabs(s_cpu[i] - s_gpu[i]));
  return c;
}

std::vector<uint32_t> text_prompt() {
  const char* s = "\"in the beginning was the word";
  std::vector<uint32_t> p;
  for (const char* c = s; *c; ++c) p.push_back(uint8_t(*c));
  return p;
}

// Float weights: measured max |delta| <= 6e-6 on every tiny model; 1e-4 leaves room for other drivers.
constexpr float kFloatTol = 1e-4f;
// Quantized weights: activations are rounded to 8-bit blocks, a discontinuous step, so a last-bit
// difference in a sum can move one q by 1 and the model (trained, small, 12 layers) amplifies that.
// The CPU's own two kernel sets (AVX-512 vs reference, RWKV_KERNELS=reference) differ by up to 0.057
// on these files for that reason (5v1 Q5_0 0.057, 5v2 Q5_0 0.031, 6v0-3m Q5_1 0.020, 7v0 Q5_0 5e-7);
// the GPU is allowed 0.15, under three times that spread, and measured <= 0.07.
constexpr float kQuantTol = 0.15f;

struct TinyCase {
  const char* stem;
  float tol;  // max |delta| of logits allowed (see the header comment)
};

class VulkanTiny : public ::testing::TestWithParam<TinyCase> {};

// All (or half) of the layers on the GPU, token by token and as one sequence, against the CPU.
void expect_tiny_matches_cpu(const TinyCase& c, int dev, bool half) {
  const std::string path = test::tiny_model(c.stem);
  auto probe = Model::load(path, {.threads = 1});
  const int L = half ? probe->info().n_layer / 2 : probe->info().n_layer;
  for (bool seq : {false, true}) {
    const Compare r = compare_model(path, L, dev, text_prompt(), seq);
    std::printf("[ vulkan ] %-26s %s %2d layers %-8s max|dlogit| %.3g  max|dstate| %.3g\n", c.stem, half ? "half" : "all ",
                L, seq ? "sequence" : "tokens", r.logits, r.state);
    if (!half) ::testing::Test::RecordProperty(std::string("max_abs_logit_delta_all_") + (seq ? "seq" : "tok"), std::to_string(r.logits));
    EXPECT_LT(r.logits, c.tol) << c.stem << (seq ? " sequence" : " token by token");
  }
}

// The persistent decode step (shaders/step7.comp: every op of a token in one dispatch, grid barriers
// between them) against the CPU and against the dispatch-per-op step, token by token, on the tiny
// RWKV-7 float models. Where the multiprocessor count is unknown (lavapipe) it runs with one
// workgroup: the ops' logic, not the barriers; on an NVIDIA GPU with one per multiprocessor.
// max |a[i] - b[i]| over two equally long vectors.
float max_abs_delta(const std::vector<float>& a, const std::vector<float>& b) {
  float d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

// A small synthetic RWKV-7 of several heads (C 256, head size 64, 2 layers, vocab 1024, LoRA ranks 32 / 32
// / 16 / 64), written once to the temp directory: the step's WKV-7 split over workgroups per head, its
// GroupNorm in the output projection's staging (several heads per workgroup) and the LoRA up-projections as
// a matvec op of short rows, which the tiny models (one head) exercise only in part. Small enough for
// lavapipe's one workgroup (a whole 0.1B step there is not: native/kernels/vulkan/README.md).
// `type`: FP16, or Q8_0 (its LoRA and head stay FP16, as rwkv.cpp's quantized files keep them).
std::string multi_head_model(DType type = DType::F16) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/rwkv-test-synthetic-4-heads-" + dtype_name(type) + ".bin";
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    std::fclose(f);
    return path;
  }
  SyntheticShape shape;
  shape.name = "4 heads";
  shape.n_layer = 2, shape.n_embd = 256, shape.n_vocab = 1024, shape.head_size = 64, shape.ffn = 1024;
  shape.lora_w = 32, shape.lora_a = 32, shape.lora_v = 16, shape.lora_g = 64;
  write_synthetic_model(shape, type, 7, path);
  return path;
}

// The same weights as `path`, every tensor dequantized to FP32 (exact: a Q8_0 weight is an f16 scale
// times an int8, an FP16 value widens exactly). The CPU on this file computes what a GPU that keeps its
// activations in floats computes on `path`, up to summation order.
std::string dequantized_copy(const std::string& path) {
  const std::string out = path.substr(0, path.size() - 4) + "-dequantized-FP32.bin";
  if (FILE* f = std::fopen(out.c_str(), "rb")) {
    std::fclose(f);
    return out;
  }
  const TensorIndex index = open_rwkv_bin(path);
  RwkvBinHeader header = index.header;
  header.data_type = uint32_t(DType::F32);
  RwkvBinWriter writer(out, header);
  std::vector<const Tensor*> order;  // file order
  for (const auto& [name, t] : index.tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const Tensor* a, const Tensor* b) { return a->data < b->data; });
  std::vector<float> row;
  for (const Tensor* t : order) {
    writer.begin_tensor(t->name, DType::F32, t->n_dims, t->ne);
    row.resize(size_t(t->cols()));
    for (int64_t r = 0; r < t->rows(); ++r) {
      dequantize_row(t->dtype, t->row(r), row.data(), t->cols());
      writer.write_data(row.data(), row.size() * 4);
    }
  }
  writer.finish();
  return out;
}

// The persistent-step tests' models by name: a tiny one, or the synthetic 4-head one in FP16 or Q8_0.
std::string step_test_model(const std::string& stem) {
  if (stem == "synthetic-4-heads-Q8_0") return multi_head_model(DType::Q8_0);
  if (stem == "synthetic-4-heads-FP16") return multi_head_model();
  return test::tiny_model(stem);
}

// Q8_0 (step7_mixed: Q8_0 layer matrices, FP16 LoRA and head; here without flag 16, so activations kept in
// floats) is checked against the CPU on the same weights dequantized to FP32, to the float tolerance; the
// dispatch-per-op path rounds activations to 8 bits as the CPU's Q8_0 kernels do, so it may differ from the
// step by about what that rounding moves the CPU's own logits (the CPU on the Q8_0 file against the CPU on
// the FP32 copy). The default step (flag 16) rounds them too: Q8_0JobsWithEightBitActivations below.
TEST(VulkanPersistent, OneDispatchStepMatchesCpuAndDispatches) {
  REQUIRE_VULKAN(dev);
  for (const char* stem : {"tiny-rwkv-7v0-834K-FP32", "tiny-rwkv-7v0-834K-FP16", "synthetic-4-heads-FP16", "synthetic-4-heads-Q8_0"}) {
    const bool q8 = std::string(stem) == "synthetic-4-heads-Q8_0";
    const std::string path = step_test_model(stem);
    TensorIndex index = open_rwkv_bin(path);
    auto arch = make_architecture(index, path);
    const ModelInfo& info = arch->info();
    auto persistent = vk::GpuModel::create(index, info, {.layers = info.n_layer, .device = dev, .persistent = 2, .persistent_flags = 0});
    auto dispatches = vk::GpuModel::create(index, info, {.layers = info.n_layer, .device = dev, .persistent = 0});
    ASSERT_TRUE(persistent->persistent_decode()) << stem;
    ASSERT_FALSE(dispatches->persistent_decode()) << stem;
    auto cpu = Model::load(q8 ? dequantized_copy(path) : path, {.threads = 2});
    std::vector<float> s_cpu = cpu->initial_state(), s_p = s_cpu, s_d = s_cpu, x(size_t(info.n_embd));
    std::vector<float> l_cpu(size_t(info.n_vocab)), l_p(l_cpu.size()), l_d(l_cpu.size());
    float vs_cpu = 0, vs_dispatch = 0, rounding = 0;
    auto cpu_q8 = q8 ? Model::load(path, {.threads = 2}) : nullptr;
    std::vector<float> s_q8 = s_cpu, l_q8(l_cpu.size());
    for (uint32_t t : text_prompt()) {
      cpu->eval(&t, 1, s_cpu.data(), l_cpu.data());
      if (q8) {
        cpu_q8->eval(&t, 1, s_q8.data(), l_q8.data());
        rounding = std::max(rounding, max_abs_delta(l_q8, l_cpu));
      }
      arch->embed(t, x.data());
      persistent->eval(x.data(), 1, s_p.data(), nullptr, l_p.data());
      dispatches->eval(x.data(), 1, s_d.data(), nullptr, l_d.data());
      for (size_t i = 0; i < l_cpu.size(); ++i) {
        vs_cpu = std::max(vs_cpu, std::fabs(l_p[i] - l_cpu[i]));
        vs_dispatch = std::max(vs_dispatch, std::fabs(l_p[i] - l_d[i]));
      }
    }
    const float dstate = max_abs_delta(s_p, s_cpu);
    std::printf("[ vulkan ] %-26s persistent step, tokens: max|dlogit| vs CPU %.3g, vs dispatches %.3g, max|dstate| %.3g%s\n",
                stem, vs_cpu, vs_dispatch, dstate, q8 ? (" (CPU: Q8_0 vs FP32 copy " + std::to_string(rounding) + ")").c_str() : "");
    EXPECT_LT(vs_cpu, kFloatTol) << stem;
    EXPECT_LT(vs_dispatch, q8 ? 2 * rounding + kFloatTol : kFloatTol) << stem;
    EXPECT_LT(dstate, kFloatTol) << stem;
  }
}

// The step's side group: a layer's LoRA down- and up-projections on the last workgroups while the others
// stream r, k and v, the up-projections waiting only for the down ones and WKV-7 for both. On lavapipe one
// workgroup (two did not reliably stay resident side by side there), so both groups are that workgroup and
// their ops run one after the other: the ops' split, their waits on the group counts and the step's count
// of arrivals are what this checks; the H100 runs the groups side by side (BENCHMARKS.md). Same logits as
// the CPU (Q8_0: the step's default flag 16 rounds activations to 8 bits, as the CPU's Q8_0 kernels do) and
// as the step without groups; the profile names the ops of each group.
TEST(VulkanPersistent, SideGroupRunsTheLoraBesideRkv) {
  REQUIRE_VULKAN(dev);
  bool clock = false;
  for (const auto& d : vk::list_devices())
    if (d.index == dev) clock = d.device_clock;
  for (const char* stem : {"tiny-rwkv-7v0-834K-FP16", "synthetic-4-heads-FP16", "synthetic-4-heads-Q8_0"}) {
    const bool q8 = std::string(stem) == "synthetic-4-heads-Q8_0";
    const std::string path = step_test_model(stem);
    TensorIndex index = open_rwkv_bin(path);
    auto arch = make_architecture(index, path);
    const ModelInfo& info = arch->info();
    const vk::GpuOptions grouped{.layers = info.n_layer, .device = dev, .persistent = 2, .persistent_workgroups = 1,
                                 .persistent_side_workgroups = 1};
    vk::GpuOptions plain = grouped;
    plain.persistent_side_workgroups = 0;
    auto side = vk::GpuModel::create(index, info, grouped);
    auto groupless = vk::GpuModel::create(index, info, plain);
    ASSERT_TRUE(side->persistent_decode()) << stem;
    ASSERT_TRUE(groupless->persistent_decode()) << stem;
    auto cpu = Model::load(path, {.threads = 2});
    std::vector<float> s_cpu = cpu->initial_state(), s_side = s_cpu, s_plain = s_cpu, x(size_t(info.n_embd));
    std::vector<float> l_cpu(size_t(info.n_vocab)), l_side(l_cpu.size()), l_plain(l_cpu.size());
    float vs_cpu = 0, vs_plain = 0;
    for (uint32_t t : text_prompt()) {
      cpu->eval(&t, 1, s_cpu.data(), l_cpu.data());
      arch->embed(t, x.data());
      side->eval(x.data(), 1, s_side.data(), nullptr, l_side.data());
      groupless->eval(x.data(), 1, s_plain.data(), nullptr, l_plain.data());
      vs_cpu = std::max(vs_cpu, max_abs_delta(l_side, l_cpu));
      vs_plain = std::max(vs_plain, max_abs_delta(l_side, l_plain));
    }
    std::printf("[ vulkan ] %-26s side group: max|dlogit| vs CPU %.3g, vs the step without groups %.3g\n", stem, vs_cpu, vs_plain);
    EXPECT_LT(vs_cpu, q8 ? kQuantTol : kFloatTol) << stem;
    EXPECT_LT(vs_plain, kFloatTol) << stem;
    EXPECT_LT(max_abs_delta(s_side, s_cpu), q8 ? kQuantTol : kFloatTol) << stem;
    if (!clock) continue;
    const std::string text = side->profile_decode(2);
    for (const char* op : {"att.ln1+rkv:", "att.ln1+lora_down:", "att.lora_up:", "att.wkv7"})
      EXPECT_NE(text.find(op), std::string::npos) << stem << ": " << op << "\n" << text;
    EXPECT_EQ(text.find("att.ln1+rkv+lora_down"), std::string::npos) << stem;
  }
}

// The weights a matvec loads before its grid barrier (its first task's first batch) must be what it would
// load after it: the same bits, token by token, with the preload and without (kStepNoPreload), beside a
// side group (one workgroup on lavapipe: its first task of each op preloads, the others load after the
// barrier, so both paths run).
TEST(VulkanPersistent, PreloadingAheadOfTheBarriersGivesTheSameBits) {
  REQUIRE_VULKAN(dev);
  for (const char* stem : {"tiny-rwkv-7v0-834K-FP32", "synthetic-4-heads-FP16", "synthetic-4-heads-Q8_0"}) {
    const std::string path = step_test_model(stem);
    TensorIndex index = open_rwkv_bin(path);
    auto arch = make_architecture(index, path);
    const ModelInfo& info = arch->info();
    const vk::GpuOptions ahead{.layers = info.n_layer, .device = dev, .persistent = 2, .persistent_workgroups = 1,
                               .persistent_side_workgroups = 1,
                               .persistent_flags = int(vk::kStepQ8Int)};
    vk::GpuOptions after = ahead;
    after.persistent_flags = int(vk::kStepNoPreload | vk::kStepQ8Int);
    auto a = vk::GpuModel::create(index, info, ahead);
    auto b = vk::GpuModel::create(index, info, after);
    ASSERT_TRUE(a->persistent_decode() && b->persistent_decode()) << stem;
    std::vector<float> s_a = Model::load(path, {.threads = 1})->initial_state(), x(size_t(info.n_embd));
    std::vector<float> s_b = s_a, l_a(size_t(info.n_vocab)), l_b(l_a.size());
    float d = 0;
    for (uint32_t t : text_prompt()) {
      arch->embed(t, x.data());
      a->eval(x.data(), 1, s_a.data(), nullptr, l_a.data());
      b->eval(x.data(), 1, s_b.data(), nullptr, l_b.data());
      d = std::max(d, max_abs_delta(l_a, l_b));
    }
    EXPECT_EQ(d, 0.0f) << stem;
    EXPECT_EQ(max_abs_delta(s_a, s_b), 0.0f) << stem;
    EXPECT_NE(l_a, std::vector<float>(l_a.size(), 0.0f)) << stem;
  }
}

// The step's own profile (GpuModel::profile_decode on a persistent step): every op of the token,
// by label, timed inside the dispatch from the device clock, with WKV-7's phases; the rows add up.
TEST(VulkanPersistent, ProfileTimesEveryOpInsideTheStep) {
  REQUIRE_VULKAN(dev);
  bool clock = false;
  for (const auto& d : vk::list_devices())
    if (d.index == dev) clock = d.device_clock;
  const std::string path = test::tiny_model("tiny-rwkv-7v0-834K-FP16");
  TensorIndex index = open_rwkv_bin(path);
  auto arch = make_architecture(index, path);
  const ModelInfo& info = arch->info();
  auto gpu = vk::GpuModel::create(index, info, {.layers = info.n_layer, .device = dev, .persistent = 2});
  ASSERT_TRUE(gpu->persistent_decode());
  const std::string text = gpu->profile_decode(3);
  if (!clock) GTEST_SKIP() << "the device has no shader device clock (VK_KHR_shader_clock)";
  std::printf("%s", text.c_str());
  for (const char* op : {"att.ln1+rkv", "att.wkv7", "ffn.ln2+key:matvec_f16_ln", "ffn.value:matvec_f16",
                         "head:matvec_f16_ln", "phases (mean us per op): LoRA"})
    EXPECT_NE(text.find(op), std::string::npos) << op;
  // Each layer op ran once per layer: "  <label>  <ops> ..." with ops = n_layer.
  const size_t at = text.find("ffn.value:matvec_f16");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(std::atoi(text.c_str() + at + std::strlen("ffn.value:matvec_f16")), info.n_layer);
}

// A persistent step whose grid barriers give up (more workgroups than can be resident: 64 on lavapipe,
// which runs a few at a time; 16 per multiprocessor where the count is known, twice what fits of 256
// invocations; the load-time check skipped, as if other work took multiprocessors later).
// A call that uploaded its state runs again as dispatches and gives the right logits; a call whose
// state lived on the GPU fails with a clear error. Either way one-token steps use dispatches afterwards.
// The quantized matvecs built on the device's 4 x 8-bit dot products (the *_idot shader variants, where
// Device::int_dot()) add the same integers as the bit extractions they replace, so every logit and state
// value is the same bits with and without them: every quantized weight type, every model version, one token
// at a time and as a sequence (the matvec's T > 1 loop), through the dispatch path (GpuOptions::int_dot = 1 turns
// them on where the device has them at all, as lavapipe does, not accelerated).
// A GPU model with bit extractions (int_dot 0) or the device's integer dot products wherever it has them (1).
std::unique_ptr<vk::GpuModel> gpu_with_int_dot(int int_dot, const TensorIndex& index, const ModelInfo& info,
                                               vk::GpuOptions options) {
  options.int_dot = int_dot;
  return vk::GpuModel::create(index, info, options);
}

TEST(VulkanIntDot, DeviceDotProductsGiveTheSameBits) {
  REQUIRE_VULKAN(dev);
  auto with_int_dot = [&](int value, const TensorIndex& index, const ModelInfo& info) {
    return gpu_with_int_dot(value, index, info, {.layers = info.n_layer, .device = dev, .persistent = 0});
  };
  for (const std::string path : {test::tiny_model("tiny-rwkv-4v0-660K-Q5_1"), test::tiny_model("tiny-rwkv-5v2-730K-Q5_0"),
                                 test::tiny_model("tiny-rwkv-6v0-1m-Q5_1"), test::tiny_model("tiny-rwkv-7v0-834K-Q5_0"),
                                 multi_head_model(DType::Q8_0), multi_head_model(DType::Q4_0), multi_head_model(DType::Q4_1)}) {
    TensorIndex index = open_rwkv_bin(path);
    auto arch = make_architecture(index, path);
    const ModelInfo& info = arch->info();
    auto emulated = with_int_dot(0, index, info), native = with_int_dot(1, index, info);
    ASSERT_FALSE(emulated->device().int_dot);
    if (!native->device().int_dot) GTEST_SKIP() << native->device().name << " has no integer dot products";
    std::vector<float> s_e = Model::load(path, {.threads = 1})->initial_state(), s_n = s_e, x(size_t(info.n_embd) * 5);
    std::vector<float> l_e(size_t(info.n_vocab)), l_n(l_e.size());
    const std::vector<uint32_t> prompt = text_prompt();
    size_t differ = 0;
    for (size_t i = 0; i < prompt.size(); ++i) {
      arch->embed(prompt[i], x.data());
      emulated->eval(x.data(), 1, s_e.data(), nullptr, l_e.data());
      native->eval(x.data(), 1, s_n.data(), nullptr, l_n.data());
      differ += std::memcmp(l_e.data(), l_n.data(), l_e.size() * 4) != 0;
    }
    for (size_t i = 0; i < 5; ++i) arch->embed(prompt[i], x.data() + i * size_t(info.n_embd));
    emulated->eval(x.data(), 5, s_e.data(), nullptr, l_e.data());
    native->eval(x.data(), 5, s_n.data(), nullptr, l_n.data());
    EXPECT_EQ(differ, 0u) << path << ": tokens whose logits differ";
    EXPECT_EQ(std::memcmp(l_e.data(), l_n.data(), l_e.size() * 4), 0) << path << ": a 5-token sequence";
    EXPECT_EQ(std::memcmp(s_e.data(), s_n.data(), s_e.size() * 4), 0) << path << ": the state";
    std::printf("[ vulkan ] %s: integer dot products against bit extractions, %zu tokens and a 5-token sequence compared\n", path.c_str(), prompt.size());
  }
}

// The step's flag 16 (kStepQ8Int): Q8_0 jobs round their staged input to 8-bit blocks and take integer dot
// products. Their results then follow the CPU's Q8_0 kernels (which round the same way) and the dispatch path
// rather than the dequantized weights; the device's dot products (step7_mixed_idot) and the bit
// extractions give the same bits. One workgroup on lavapipe: every task of an op restages and requantizes.
TEST(VulkanPersistent, Q8_0JobsWithEightBitActivations) {
  REQUIRE_VULKAN(dev);
  const std::string path = multi_head_model(DType::Q8_0);
  TensorIndex index = open_rwkv_bin(path);
  auto arch = make_architecture(index, path);
  const ModelInfo& info = arch->info();
  vk::GpuOptions o{.layers = info.n_layer, .device = dev, .persistent = 2, .persistent_workgroups = 1,
                   .persistent_side_workgroups = 0, .persistent_flags = int(vk::kStepQ8Int)};
  auto step_int = gpu_with_int_dot(0, index, info, o), step_idot = gpu_with_int_dot(1, index, info, o);
  o.persistent_flags = 0;
  auto step_float = vk::GpuModel::create(index, info, o);
  o.persistent = 0;
  auto dispatches = vk::GpuModel::create(index, info, o);
  ASSERT_TRUE(step_int->persistent_decode() && step_idot->persistent_decode() && step_float->persistent_decode());
  auto cpu = Model::load(path, {.threads = 2});
  std::vector<float> s_cpu = cpu->initial_state(), s_i = s_cpu, s_n = s_cpu, s_f = s_cpu, s_d = s_cpu, x(size_t(info.n_embd));
  std::vector<float> l_cpu(size_t(info.n_vocab)), l_i(l_cpu.size()), l_n(l_cpu.size()), l_f(l_cpu.size()), l_d(l_cpu.size());
  float vs_cpu = 0, vs_dispatch = 0, float_vs_cpu = 0;
  size_t idot_differs = 0, float_same = 0;
  for (uint32_t t : text_prompt()) {
    cpu->eval(&t, 1, s_cpu.data(), l_cpu.data());
    arch->embed(t, x.data());
    step_int->eval(x.data(), 1, s_i.data(), nullptr, l_i.data());
    step_idot->eval(x.data(), 1, s_n.data(), nullptr, l_n.data());
    step_float->eval(x.data(), 1, s_f.data(), nullptr, l_f.data());
    dispatches->eval(x.data(), 1, s_d.data(), nullptr, l_d.data());
    vs_cpu = std::max(vs_cpu, max_abs_delta(l_i, l_cpu));
    vs_dispatch = std::max(vs_dispatch, max_abs_delta(l_i, l_d));
    float_vs_cpu = std::max(float_vs_cpu, max_abs_delta(l_f, l_cpu));
    idot_differs += std::memcmp(l_i.data(), l_n.data(), l_i.size() * 4) != 0;
    float_same += std::memcmp(l_i.data(), l_f.data(), l_i.size() * 4) == 0;
  }
  std::printf("[ vulkan ] synthetic-4-heads-Q8_0 step with 8-bit activations: max|dlogit| vs CPU Q8_0 %.3g, vs dispatches %.3g "
              "(float activations vs CPU Q8_0: %.3g)%s\n", vs_cpu, vs_dispatch, float_vs_cpu,
              step_idot->device().int_dot ? "; device dot products: the same bits" : "");
  EXPECT_LT(vs_cpu, kQuantTol);
  EXPECT_LT(vs_dispatch, kQuantTol);
  EXPECT_LT(max_abs_delta(s_i, s_cpu), kQuantTol);
  EXPECT_EQ(float_same, 0u) << "the flag changed nothing";
  if (step_idot->device().int_dot) EXPECT_EQ(idot_differs, 0u) << "tokens whose logits differ with the device's dot products";
}

// Models of Q4_0, Q4_1, Q5_0 and Q5_1 matrices decode in the persistent step too (step7_nibble): each job's
// block of 32 nibbles (and fifth bits) against its staged input rounded to 8-bit blocks, with integer dot
// products, as the CPU's kernels and the dispatch path compute it. The device's dot products
// (step7_nibble_idot) give the same bits as bit extractions.
TEST(VulkanPersistent, NibbleQuantizedModelsRunInTheStep) {
  REQUIRE_VULKAN(dev);
  for (const std::string path : {multi_head_model(DType::Q4_0), multi_head_model(DType::Q4_1), multi_head_model(DType::Q5_0),
                                 multi_head_model(DType::Q5_1), test::tiny_model("tiny-rwkv-7v0-834K-Q5_0"),
                                 test::tiny_model("tiny-rwkv-7v0-834K-Q5_1")}) {
    TensorIndex index = open_rwkv_bin(path);
    auto arch = make_architecture(index, path);
    const ModelInfo& info = arch->info();
    vk::GpuOptions o{.layers = info.n_layer, .device = dev, .persistent = 2, .persistent_workgroups = 1,
                     .persistent_side_workgroups = 0};
    auto step = gpu_with_int_dot(0, index, info, o), step_idot = gpu_with_int_dot(1, index, info, o);
    o.persistent = 0;
    auto dispatches = vk::GpuModel::create(index, info, o);
    ASSERT_TRUE(step->persistent_decode() && step_idot->persistent_decode()) << path;
    ASSERT_FALSE(dispatches->persistent_decode()) << path;
    auto cpu = Model::load(path, {.threads = 2});
    std::vector<float> s_cpu = cpu->initial_state(), s_p = s_cpu, s_n = s_cpu, s_d = s_cpu, x(size_t(info.n_embd));
    std::vector<float> l_cpu(size_t(info.n_vocab)), l_p(l_cpu.size()), l_n(l_cpu.size()), l_d(l_cpu.size());
    float vs_cpu = 0, vs_dispatch = 0;
    size_t idot_differs = 0;
    for (uint32_t t : text_prompt()) {
      cpu->eval(&t, 1, s_cpu.data(), l_cpu.data());
      arch->embed(t, x.data());
      step->eval(x.data(), 1, s_p.data(), nullptr, l_p.data());
      step_idot->eval(x.data(), 1, s_n.data(), nullptr, l_n.data());
      dispatches->eval(x.data(), 1, s_d.data(), nullptr, l_d.data());
      vs_cpu = std::max(vs_cpu, max_abs_delta(l_p, l_cpu));
      vs_dispatch = std::max(vs_dispatch, max_abs_delta(l_p, l_d));
      idot_differs += std::memcmp(l_p.data(), l_n.data(), l_p.size() * 4) != 0;
    }
    std::printf("[ vulkan ] %s persistent step: max|dlogit| vs CPU %.3g, vs dispatches %.3g, max|dstate| %.3g\n", path.c_str(),
                vs_cpu, vs_dispatch, max_abs_delta(s_p, s_cpu));
    EXPECT_LT(vs_cpu, kQuantTol) << path;
    EXPECT_LT(vs_dispatch, kQuantTol) << path;
    EXPECT_LT(max_abs_delta(s_p, s_cpu), kQuantTol) << path;
    if (step_idot->device().int_dot) EXPECT_EQ(idot_differs, 0u) << path << ": tokens whose logits differ with the device's dot products";
  }
}

TEST(VulkanPersistent, BarrierThatGivesUpFallsBackToDispatches) {
  REQUIRE_VULKAN(dev);
  const std::string path = test::tiny_model("tiny-rwkv-7v0-834K-FP32");
  TensorIndex index = open_rwkv_bin(path);
  auto arch = make_architecture(index, path);
  const ModelInfo& info = arch->info();
  uint32_t too_many = 64;
  for (const auto& d : vk::list_devices())
    if (d.index == dev) too_many = std::max(too_many, d.multiprocessors * 16);
  const vk::GpuOptions crowded{.layers = info.n_layer, .device = dev, .persistent = 2,
                               .persistent_workgroups = int(too_many), .persistent_check = false};
  auto cpu = Model::load(path, {.threads = 2});
  const std::vector<uint32_t> prompt = text_prompt();
  std::vector<float> x(size_t(info.n_embd) * 2), l_cpu(size_t(info.n_vocab)), l_gpu(l_cpu.size());

  {  // the state uploaded by the call itself: recovered
    auto gpu = vk::GpuModel::create(index, info, crowded);
    ASSERT_TRUE(gpu->persistent_decode());
    std::vector<float> s_cpu = cpu->initial_state(), s_gpu = s_cpu;
    for (size_t i = 0; i < 3; ++i) {
      const uint32_t t = prompt[i];
      cpu->eval(&t, 1, s_cpu.data(), l_cpu.data());
      arch->embed(t, x.data());
      gpu->eval(x.data(), 1, s_gpu.data(), nullptr, l_gpu.data());
      EXPECT_FALSE(gpu->persistent_decode()) << too_many << " workgroups were all resident: the test needs more";
      EXPECT_LT(max_abs_delta(l_gpu, l_cpu), kFloatTol) << "token " << i;
    }
  }
  {  // the state resident on the GPU (uploaded by a two-token call): a clear error, then dispatches
    auto gpu = vk::GpuModel::create(index, info, crowded);
    std::vector<float> state = cpu->initial_state();
    const vk::StateSync resident{.generation = 7, .download = false};
    arch->embed(prompt[0], x.data());
    arch->embed(prompt[1], x.data() + info.n_embd);
    gpu->eval(x.data(), 2, state.data(), nullptr, l_gpu.data(), resident);
    ASSERT_TRUE(gpu->persistent_decode());
    arch->embed(prompt[2], x.data());
    try {
      gpu->eval(x.data(), 1, state.data(), nullptr, l_gpu.data(), resident);
      ADD_FAILURE() << "no error from a broken step on a resident state";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Device);
      EXPECT_NE(std::string(e.what()).find("state on the GPU is lost"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(gpu->persistent_decode());
    // Starting again from a CPU state works, on dispatches.
    std::vector<float> s_cpu = cpu->initial_state(), s_gpu = s_cpu;
    const uint32_t t = prompt[0];
    cpu->eval(&t, 1, s_cpu.data(), l_cpu.data());
    arch->embed(t, x.data());
    gpu->eval(x.data(), 1, s_gpu.data(), nullptr, l_gpu.data());
    EXPECT_LT(max_abs_delta(l_gpu, l_cpu), kFloatTol);
  }
}

TEST_P(VulkanTiny, AllLayersMatchCpu) {
  REQUIRE_VULKAN(dev);
  expect_tiny_matches_cpu(GetParam(), dev, false);
}

TEST_P(VulkanTiny, HalfLayersMatchCpu) {
  REQUIRE_VULKAN(dev);
  expect_tiny_matches_cpu(GetParam(), dev, true);
}

std::vector<TinyCase> tiny_cases() {
  std::vector<TinyCase> v;
  for (const char* stem : {"4v0-660K", "5v1-730K", "5v2-730K", "6v0-1m", "7v0-834K"})
    for (const char* type : {"FP32", "FP16", "Q5_0", "Q5_1"}) {
      const bool quant = type[0] == 'Q';
      v.push_back({strdup((std::string("tiny-rwkv-") + stem + "-" + type).c_str()), quant ? kQuantTol : kFloatTol});
    }
  v.push_back({"tiny-rwkv-6v0-3m-Q5_0", kQuantTol});
  v.push_back({"tiny-rwkv-6v0-3m-Q5_1", kQuantTol});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Tiny, VulkanTiny, ::testing::ValuesIn(tiny_cases()), [](const auto& i) {
  std::string s = i.param.stem + 10;
  for (char& ch : s) if (!isalnum(ch)) ch = '_';
  return s;
});

// --- One op at a time: matvec for every weight type, one token and several, against the reference
// CPU kernels (which define the activation-quantization contract the GPU reproduces).

struct OpHarness {
  std::unique_ptr<vk::Device> device;
  std::unique_ptr<vk::Pipelines> pipelines;
  std::unique_ptr<vk::Arena> arena;
  std::unique_ptr<vk::Uploader> up;
  vk::ScratchPlan plan{72};
  std::unique_ptr<vk::Buffer> scratch, act_q, act_d, jobs, host;
  std::unique_ptr<vk::Ops> ops;

  explicit OpHarness(int dev) {
    device = vk::Device::create(dev);
    pipelines = std::make_unique<vk::Pipelines>(*device);
    arena = std::make_unique<vk::Arena>(*device, 16 << 20);
    up = std::make_unique<vk::Uploader>(*device, 4 << 20);
  }
  // Call after planning every Act.
  void allocate() {
    vk::Act few{};  // gemm_few.comp's reduction area, as GpuModel plans it
    if (device->coop_matrix()) few = plan.flat(vk::Ops::few_area_floats());
    const uint64_t floats = plan.floats() + 64;
    scratch = std::make_unique<vk::Buffer>(*device, floats * 4, vk::Buffer::Kind::Device);
    act_q = std::make_unique<vk::Buffer>(*device, floats, vk::Buffer::Kind::Device);
    act_d = std::make_unique<vk::Buffer>(*device, (floats / 32 + 1) * 8, vk::Buffer::Kind::Device);
    jobs = std::make_unique<vk::Buffer>(*device, 64 * 112, vk::Buffer::Kind::Device);
    host = std::make_unique<vk::Buffer>(*device, floats * 4, vk::Buffer::Kind::Host);
    ops = std::make_unique<vk::Ops>(*device, *pipelines, plan, vk::whole(*scratch), vk::whole(*act_q), vk::whole(*act_d));
    if (device->coop_matrix()) ops->set_few_area(few);
    VkCommandBuffer cb = device->allocate_command_buffer();  // zeroed, as GpuModel's scratch (split counters)
    vk::Recorder rec(*device, *pipelines, cb);
    rec.begin();
    rec.fill_zero(vk::whole(*scratch));
    rec.end();
    device->submit_and_wait(&cb, 1);
    device->free_command_buffer(cb);
  }
  void write(const vk::Act& a, const std::vector<float>& v) {
    up->upload(ops->slice(a, v.size()), 0, v.data(), v.size() * 4);
    up->flush();
  }
  // Records `body`, runs it, and returns `out` (n floats).
  template <class Body>
  std::vector<float> run(uint32_t T, Body body, const vk::Act& out, size_t n) {
    VkCommandBuffer cb = device->allocate_command_buffer();
    vk::Recorder rec(*device, *pipelines, cb);
    rec.begin();
    ops->set_job_table(vk::whole(*jobs));
    ops->begin(rec, T);
    body(*ops);
    rec.copy(ops->slice(out, n), vk::whole(*host), n * 4);
    rec.end();
    up->upload(vk::whole(*jobs), 0, ops->job_bytes().data(), ops->job_bytes().size());
    up->flush();
    device->submit_and_wait(&cb, 1);
    device->free_command_buffer(cb);
    const float* p = static_cast<const float*>(host->mapped());
    return std::vector<float>(p, p + n);
  }
};

// The wait that polls near a submission's expected end (Device::submit_and_wait with an estimate; the
// polling itself runs on GPUs only): the estimate is learnt from the first wait, blended after, and the fence
// is reset for the next submission either way; the work is done when the wait returns.
TEST(VulkanDevice, SubmitAndWaitLearnsHowLongASubmissionTakes) {
  REQUIRE_VULKAN(dev);
  auto device = vk::Device::create(dev);
  vk::Pipelines pipelines(*device);
  vk::Buffer host(*device, 1 << 20, vk::Buffer::Kind::Host);
  vk::Buffer gpu(*device, 1 << 20, vk::Buffer::Kind::Device);
  std::memset(host.mapped(), 0x5A, 1 << 20);
  VkCommandBuffer cb = device->allocate_command_buffer();
  vk::Recorder rec(*device, pipelines, cb);
  rec.begin();
  rec.fill_zero(vk::whole(gpu));
  rec.barrier();
  rec.copy(vk::whole(gpu), vk::whole(host), 1 << 20);
  rec.end();
  double estimate = 0;
  device->submit_and_wait(&cb, 1, &estimate);
  EXPECT_GT(estimate, 0.0);
  const uint8_t* p = static_cast<const uint8_t*>(host.mapped());
  EXPECT_EQ(p[0], 0);
  EXPECT_EQ(p[(1 << 20) - 1], 0);
  const double first = estimate;
  std::memset(host.mapped(), 0x5A, 1 << 20);
  device->submit_and_wait(&cb, 1, &estimate);  // waits with the estimate: polls on a GPU
  EXPECT_GT(estimate, 0.75 * first);           // a quarter of the new time is blended in
  EXPECT_EQ(p[12345], 0);
  std::memset(host.mapped(), 0x5A, 1 << 20);
  device->submit_and_wait(&cb, 1);  // and without one
  EXPECT_EQ(p[(1 << 20) - 1], 0);
  device->free_command_buffer(cb);
}

// Pipeline statistics (RWKV_VK_SHADER_STATS=1, where the device has VK_KHR_pipeline_executable_properties):
// one line per pipeline built, by shader name and specialization, with the driver's figures; nothing when
// the switch is off. lavapipe lacks the extension: there only the "off" half runs.
TEST(VulkanDevice, ShaderStatisticsNameEveryPipelineBuilt) {
  REQUIRE_VULKAN(dev);
  const char* outer = std::getenv("RWKV_VK_SHADER_STATS");  // the run's own setting, put back at the end
  const std::string saved = outer ? outer : "";
  struct Restore {
    const std::string& value;
    bool was_set;
    ~Restore() {
      if (was_set) setenv("RWKV_VK_SHADER_STATS", value.c_str(), 1);
      else unsetenv("RWKV_VK_SHADER_STATS");
    }
  } restore{saved, outer != nullptr};
  unsetenv("RWKV_VK_SHADER_STATS");
  {
    auto device = vk::Device::create(dev);
    vk::Pipelines pipelines(*device);
    pipelines.get("layer_norm", {64});
    EXPECT_FALSE(device->shader_stats());
    EXPECT_EQ(pipelines.statistics(), "");
  }
  setenv("RWKV_VK_SHADER_STATS", "1", 1);
  auto device = vk::Device::create(dev);
  unsetenv("RWKV_VK_SHADER_STATS");
  if (!device->shader_stats()) GTEST_SKIP() << "no VK_KHR_pipeline_executable_properties on " << device->info().name;
  vk::Pipelines pipelines(*device);
  pipelines.get("layer_norm", {64});
  pipelines.get("layer_norm", {128});
  pipelines.get("token_mix", {64});
  const std::string all = pipelines.statistics(), norms = pipelines.statistics("layer_norm");
  std::printf("[ vulkan ] %s", norms.c_str());
  EXPECT_NE(norms.find("layer_norm [64] "), std::string::npos) << norms;
  EXPECT_NE(norms.find("layer_norm [128] "), std::string::npos) << norms;
  EXPECT_EQ(norms.find("token_mix"), std::string::npos) << norms;
  EXPECT_NE(all.find("token_mix [64] "), std::string::npos) << all;
  EXPECT_NE(norms.find('='), std::string::npos) << "no statistic values: " << norms;
}

// A weight matrix of N(0, 1) values drawn row by row, stored in `type`, and those weights dequantized.
struct TestMatrix {
  DType type;
  int64_t rows, cols;
  std::vector<uint8_t> bytes;
  std::vector<float> dq;  // rows x cols
  Tensor tensor() const {
    Tensor t;
    t.name = "w", t.dtype = type, t.n_dims = 2, t.ne[0] = cols, t.ne[1] = rows;
    t.data = bytes.data(), t.nbytes = bytes.size();
    return t;
  }
};

TestMatrix random_matrix(DType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const size_t rb = dtype_row_bytes(type, cols);
  TestMatrix m{type, rows, cols, std::vector<uint8_t>(rb * size_t(rows)), std::vector<float>(size_t(rows * cols))};
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = nd(rng);
    quantize_row(type, row.data(), m.bytes.data() + size_t(r) * rb, cols);
    dequantize_row(type, m.bytes.data() + size_t(r) * rb, m.dq.data() + r * cols, cols);
  }
  return m;
}

// W·x for one token: the dequantized weights times x in double (`float_activations`), or as the CPU's
// reference kernels compute it (quantized types: x rounded to 8-bit blocks, integer block sums).
std::vector<float> reference_matvec(const TestMatrix& w, const float* x, bool float_activations) {
  std::vector<float> want(static_cast<size_t>(w.rows));
  if (float_activations) {
    for (int64_t r = 0; r < w.rows; ++r) {
      double sum = 0;
      for (int64_t c = 0; c < w.cols; ++c) sum += double(w.dq[size_t(r * w.cols + c)]) * double(x[c]);
      want[size_t(r)] = float(sum);
    }
  } else {
    std::vector<uint8_t> prepared(cpu::prepared_row_bytes(w.type, w.cols));
    cpu::prepare_activations(w.type, x, w.cols, prepared.data());
    cpu::reference_kernels().matvec_rows(cpu::MatvecArgs{w.type, w.bytes.data(), dtype_row_bytes(w.type, w.cols), w.cols},
                                         prepared.data(), want.data(), 0, w.rows);
  }
  return want;
}

// Largest |want - got| over T tokens (got: token t at t * stride from `got`), and the largest |want|.
struct Deviation {
  float worst = 0, scale = 0;
};
Deviation deviation(const TestMatrix& w, const std::vector<float>& xs, uint32_t x_stride, uint32_t T, const float* got,
                    uint32_t stride, bool float_activations) {
  Deviation d;
  for (uint32_t t = 0; t < T; ++t) {
    const std::vector<float> want = reference_matvec(w, xs.data() + size_t(t) * x_stride, float_activations);
    for (int64_t r = 0; r < w.rows; ++r) {
      d.worst = std::max(d.worst, std::fabs(want[size_t(r)] - got[size_t(t) * stride + size_t(r)]));
      d.scale = std::max(d.scale, std::fabs(want[size_t(r)]));
    }
  }
  return d;
}

class VulkanMatvec : public ::testing::TestWithParam<DType> {};

TEST_P(VulkanMatvec, MatchesReferenceKernel) {
  REQUIRE_VULKAN(dev);
  const DType type = GetParam();
  // Odd row counts: partial workgroups. 160 columns: 5 blocks, 20 F16 units, one subgroup per row;
  // 2048 columns: long rows, shared by several subgroups for one token. Rows and columns in whole 16s
  // (where the device has cooperative matrices, F16 weights and 2-31 tokens run gemm_few.comp): 96 x
  // 2048, one partial row tile split 16 ways over the columns; 1024 x 256, eight tiles split 2 ways.
  for (const auto [rows, cols] : {std::pair<int64_t, int64_t>{75, 160}, {37, 2048}, {96, 2048}, {1024, 256}}) {
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const TestMatrix w = random_matrix(type, rows, cols, rng);
    OpHarness h(dev);
    const vk::Act x = h.plan.plane(cols), y = h.plan.plane(rows);
    h.allocate();
    const vk::GpuMatrix m = vk::upload_matrix(*h.arena, *h.up, w.tensor());
    h.up->flush();
    // Where the device has cooperative matrices, T >= 32 runs gemm.comp and 2-31 (rows in whole 16s)
    // gemm_few.comp (F16 and quantized weights), with FP16 activations instead of 8-bit ones: checked
    // against the dequantized weights times the float activations (F16 weights: x split in two halves, so
    // as close as matvec.comp; quantized: weights and activations rounded to FP16, ~1e-3 relative).
    // T = 31: gemm_few's two token tiles, T = 70 gemm's, the second partial.
    for (uint32_t T : {1u, 5u, 16u, 31u, 70u}) {
      const bool gemm = h.device->coop_matrix() && T >= 32 && type != DType::F32;  // ops.cpp: RWKV_VK_COOP_MIN_T, default 32
      const bool few = h.device->coop_matrix() && T >= 2 && T < 32 && type != DType::F32 && rows % 16 == 0;
      std::vector<float> xs(size_t(T) * x.stride, 0.0f);
      for (uint32_t tt = 0; tt < T; ++tt)
        for (int64_t c = 0; c < cols; ++c) xs[tt * x.stride + size_t(c)] = nd(rng) * (c % 7 == 0 ? 10.0f : 1.0f);
      h.write(x, xs);
      const std::vector<float> got = h.run(T, [&](vk::Ops& ops) { ops.matvec({{&m, x, y}}); }, y, size_t(T) * y.stride);
      const Deviation d = deviation(w, xs, x.stride, T, got.data(), y.stride, gemm || few);
      // Same products, another summation order: a few ulp of the largest partial sums.
      const float tol = (gemm || few) && type != DType::F16 ? 2e-3f : 2e-5f;
      EXPECT_LT(d.worst, tol * std::max(1.0f, d.scale)) << dtype_name(type) << " " << cols << " columns, T=" << T;
      std::printf("[ vulkan ] %s %-5s %4ldx%-4ld T=%u max|delta| %.3g (max|y| %.3g)\n", gemm ? "gemm  " : few ? "few   " : "matvec",
                  dtype_name(type), long(rows), long(cols), T, d.worst, d.scale);
    }
  }
}

// Two weight types in one matvec op (as a layer of a quantized file: Q8_0 matrices, F16 LoRA) run as two
// dispatches with no barrier between them; where the device has cooperative matrices and 2-31 tokens,
// both are gemm_few.comp dispatches splitting their columns, each with its own range of the reduction
// area (a shared range would mix their partial tiles). Each output checked against its own reference.
TEST(VulkanMatvecOps, TwoWeightTypesInOneOp) {
  REQUIRE_VULKAN(dev);
  constexpr int64_t rows = 256, cols = 512;
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const TestMatrix w0 = random_matrix(DType::F16, rows, cols, rng), w1 = random_matrix(DType::Q8_0, rows, cols, rng);
  OpHarness h(dev);
  const vk::Act x = h.plan.plane(cols), y0 = h.plan.plane(rows), y1 = h.plan.plane(rows);
  h.allocate();
  const vk::GpuMatrix m0 = vk::upload_matrix(*h.arena, *h.up, w0.tensor()), m1 = vk::upload_matrix(*h.arena, *h.up, w1.tensor());
  h.up->flush();
  for (uint32_t T : {1u, 16u}) {
    std::vector<float> xs(size_t(T) * x.stride, 0.0f);
    for (uint32_t t = 0; t < T; ++t)
      for (int64_t c = 0; c < cols; ++c) xs[t * x.stride + size_t(c)] = nd(rng);
    h.write(x, xs);
    // y0 and y1 are consecutive planes: one read-back covers both.
    const size_t y1_at = size_t(y1.offset - y0.offset);
    const std::vector<float> got = h.run(T, [&](vk::Ops& ops) { ops.matvec({{&m0, x, y0}, {&m1, x, y1}}); }, y0,
                                         y1_at + size_t(T) * y1.stride);
    const bool few = h.device->coop_matrix() && T >= 2;
    // Q8_0 without gemm_few: 8-bit activations, as the CPU kernels.
    const Deviation d0 = deviation(w0, xs, x.stride, T, got.data(), y0.stride, true);
    const Deviation d1 = deviation(w1, xs, x.stride, T, got.data() + y1_at, y1.stride, few);
    for (const auto& [w, d] : {std::pair<const TestMatrix*, Deviation>{&w0, d0}, {&w1, d1}}) {
      const float tol = w->type == DType::Q8_0 && few ? 2e-3f : 2e-5f;
      EXPECT_LT(d.worst, tol * std::max(1.0f, d.scale)) << dtype_name(w->type) << " T=" << T;
      std::printf("[ vulkan ] two types in one op, %s%-5s T=%-2u max|delta| %.3g (max|y| %.3g)\n", few ? "few " : "",
                  dtype_name(w->type), T, d.worst, d.scale);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, VulkanMatvec,
                         ::testing::Values(DType::F32, DType::F16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0),
                         [](const auto& i) { return std::string(dtype_name(i.param)); });

// --- Batched decode: several sequences, one token each per call (Model::eval_batch). RWKV-7 runs them
// in one batched GPU step (GpuModel::eval_batch: weights read once, token shift and WKV per sequence);
// other versions fall back to one sequence at a time. Each sequence must end where the CPU and the
// GPU one-at-a-time leave it. A single-sequence step of sequence 0 in the middle mixes the two GPU paths
// (its GPU copy moves between eval()'s state and the batch slots), with and without generation ids; a
// last step reorders the rows and leaves one sequence out (slots change hands).
struct BatchResult {
  float vs_cpu = 0, vs_single = 0, state_vs_cpu = 0;
};

BatchResult compare_batched(const std::string& path, int gpu_layers, int dev, bool generations) {
  constexpr int B = 4, steps = 7;
  auto cpu = Model::load(path, {.threads = 2});
  auto single = Model::load(path, {.threads = 2, .gpu_layers = gpu_layers, .gpu_device = dev, .gpu_required = true});
  auto batched = Model::load(path, {.threads = 2, .gpu_layers = gpu_layers, .gpu_device = dev, .gpu_required = true});
  const size_t V = size_t(cpu->info().n_vocab);
  std::vector<std::vector<float>> s_cpu(B, cpu->initial_state()), s_one(B, cpu->initial_state()), s_bat(B, cpu->initial_state());
  std::vector<std::vector<float>> l_cpu(B, std::vector<float>(V)), l_one = l_cpu, l_bat = l_cpu;
  std::vector<uint64_t> gen_one(B, 0), gen_bat(B, 0);
  if (generations)
    for (int k = 0; k < B; ++k) gen_one[size_t(k)] = single->new_state_generation(), gen_bat[size_t(k)] = batched->new_state_generation();
  const std::vector<uint32_t> text = text_prompt();
  for (int t = 0; t < steps; ++t) {
    if (t == 3) {  // sequence 0 alone: the single-sequence GPU path on the batched model
      const uint32_t extra = 99;
      cpu->eval(&extra, 1, s_cpu[0].data(), l_cpu[0].data());
      single->eval_batch({SequenceInput{&extra, 1, s_one[0].data(), l_one[0].data(), gen_one[0]}});
      batched->eval_batch({SequenceInput{&extra, 1, s_bat[0].data(), l_bat[0].data(), gen_bat[0]}});
    }
    std::vector<uint32_t> tok(B);
    std::vector<SequenceInput> in;
    for (int k = 0; k < B; ++k) {
      tok[size_t(k)] = text[size_t(t * 3 + k * 5) % text.size()];
      cpu->eval(&tok[size_t(k)], 1, s_cpu[size_t(k)].data(), l_cpu[size_t(k)].data());
      single->eval_batch({SequenceInput{&tok[size_t(k)], 1, s_one[size_t(k)].data(), l_one[size_t(k)].data(), gen_one[size_t(k)]}});
      in.push_back(SequenceInput{&tok[size_t(k)], 1, s_bat[size_t(k)].data(), l_bat[size_t(k)].data(), gen_bat[size_t(k)]});
    }
    batched->eval_batch(in);
  }
  {  // one more step with the rows reordered and sequence 3 absent: with generations, the states stay
     // in their batch slots between steps, and a slot given to another state must go home first
    const int order[] = {2, 0, 1};
    std::vector<uint32_t> tok(3);
    std::vector<SequenceInput> in;
    for (int i = 0; i < 3; ++i) {
      const size_t k = size_t(order[i]);
      tok[size_t(i)] = text[(k * 7 + 1) % text.size()];
      cpu->eval(&tok[size_t(i)], 1, s_cpu[k].data(), l_cpu[k].data());
      single->eval_batch({SequenceInput{&tok[size_t(i)], 1, s_one[k].data(), l_one[k].data(), gen_one[k]}});
      in.push_back(SequenceInput{&tok[size_t(i)], 1, s_bat[k].data(), l_bat[k].data(), gen_bat[k]});
    }
    batched->eval_batch(in);
  }
  BatchResult r;
  for (int k = 0; k < B; ++k) {
    single->sync_state(s_one[size_t(k)].data());
    batched->sync_state(s_bat[size_t(k)].data());
    for (size_t i = 0; i < V; ++i) {
      r.vs_cpu = std::max(r.vs_cpu, std::fabs(l_bat[size_t(k)][i] - l_cpu[size_t(k)][i]));
      r.vs_single = std::max(r.vs_single, std::fabs(l_bat[size_t(k)][i] - l_one[size_t(k)][i]));
    }
    for (size_t i = 0; i < s_cpu[size_t(k)].size(); ++i)
      r.state_vs_cpu = std::max(r.state_vs_cpu, std::fabs(s_bat[size_t(k)][i] - s_cpu[size_t(k)][i]));
  }
  return r;
}

class VulkanBatched : public ::testing::TestWithParam<TinyCase> {};

TEST_P(VulkanBatched, SequencesMatchOneAtATime) {
  REQUIRE_VULKAN(dev);
  const TinyCase c = GetParam();
  const std::string path = test::tiny_model(c.stem);
  {  // which path the engine takes: batched GPU steps on RWKV-7, per sequence elsewhere
    TensorIndex index = open_rwkv_bin(path);
    auto arch = make_architecture(index, path);
    auto g = vk::GpuModel::create(index, arch->info(), {.layers = 1, .device = dev});
    EXPECT_EQ(g->can_batch(4), arch->info().version_major == 7) << c.stem;
    EXPECT_FALSE(g->can_batch(1));
  }
  auto probe = Model::load(path, {.threads = 1});
  const int L = probe->info().n_layer;
  for (int layers : {L, L / 2})
    for (bool gens : {false, true}) {
      const BatchResult r = compare_batched(path, layers, dev, gens);
      std::printf("[ vulkan ] %-26s batched x4, %2d layers, %-14s max|dlogit| vs CPU %.3g, vs GPU one at a time %.3g, "
                  "max|dstate| vs CPU %.3g\n",
                  c.stem, layers, gens ? "generations" : "no generation", r.vs_cpu, r.vs_single, r.state_vs_cpu);
      EXPECT_LT(r.vs_cpu, c.tol) << c.stem << " " << layers << " layers";
      EXPECT_LT(r.vs_single, c.tol) << c.stem << " " << layers << " layers";
      EXPECT_LT(r.state_vs_cpu, c.tol) << c.stem << " " << layers << " layers (states after sync_state)";
    }
}

INSTANTIATE_TEST_SUITE_P(Tiny, VulkanBatched,
                         ::testing::Values(TinyCase{"tiny-rwkv-7v0-834K-FP32", kFloatTol}, TinyCase{"tiny-rwkv-7v0-834K-FP16", kFloatTol},
                                           TinyCase{"tiny-rwkv-7v0-834K-Q5_0", kQuantTol},
                                           TinyCase{"tiny-rwkv-6v0-1m-FP16", kFloatTol}),
                         [](const auto& i) {
                           std::string n = i.param.stem;
                           for (char& ch : n)
                             if (!std::isalnum(uint8_t(ch))) ch = '_';
                           return n;
                         });

// --- A real-sized model: synthetic RWKV-7 0.1B (C 768, 12 layers, vocab 65536), written once to the
// temp directory. FP16 weights: float activations, so the bound is the float one scaled by its larger logits.
TEST(VulkanSynthetic, Rwkv7_0_1B_MatchesCpu) {
  REQUIRE_VULKAN(dev);
  const char* tmp = std::getenv("TMPDIR");
  const std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/rwkv-test-synthetic-0.1B-FP16.bin";
  if (FILE* f = std::fopen(path.c_str(), "rb")) std::fclose(f);
  else write_synthetic_model(synthetic_shape("0.1B"), DType::F16, 42, path);
  const std::vector<uint32_t> prompt = {510, 33, 2001, 65000, 7, 4242};
  for (int layers : {12, 6})
    for (bool seq : {false, true}) {
      const Compare r = compare_model(path, layers, dev, prompt, seq);
      std::printf("[ vulkan ] synthetic 0.1B FP16 %2d layers %-8s max|dlogit| %.3g  max|dstate| %.3g\n", layers,
                  seq ? "sequence" : "tokens", r.logits, r.state);
      EXPECT_LT(r.logits, 1e-3f) << layers << (seq ? " sequence" : " tokens");
    }
}

}  // namespace
