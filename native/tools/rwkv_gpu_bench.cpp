// rwkv_gpu_bench: decode and prefill speed of the Vulkan backend on one model file, and (--check) its
// logits against the CPU path (one sequence; on RWKV-7 also 16 sequences batched, against the CPU and
// against the GPU one sequence at a time).
//   rwkv_gpu_bench <model.bin> [--layers N] [--device I] [--decode N] [--prefill N] [--bandwidth GB/s]
//                  [--streams B] [--step T] [--check] [--profile] [--variants "A;B;..." [--rounds R]]
// --step T: tokens per GPU step for the prefill (GpuOptions::max_tokens; default that of GpuOptions).
// --variants "A;B;...": instead of the above, the one-token step's GPU replay time of each variant, in --rounds
// interleaved rounds (default 3) of --decode tokens each, all in this process (each variant its own GpuModel,
// made once), so the variants meet the same GPU minutes; a variant is comma-separated key=value: flags=N
// (GpuOptions::persistent_flags), persistent=N, side=N (persistent_side_workgroups), intdot=0|1
// (GpuOptions::int_dot), or "default".
// --profile: per-dispatch times of a decode step, of one prefill step and (--streams B) of a batched step
// of B sequences; a persistent decode step is also timed op by op inside its dispatch (the device clock,
// VK_KHR_shader_clock).
// Decode is reported three ways: the GPU's own time per step (one submission of N replays), a decode
// loop as an application runs it (embed on the CPU, one submit per token, logits read back, state left
// on the GPU), and the same with the state copied in and out every token (the engine's default).
// GB/s = weight bytes read per token (offloaded layers + head) x tokens/s.
// --streams B (default 16; 0 or 1: off; RWKV-7): batched decode of B sequences, one token each per
// step, weights read once per step: the GPU's time per step, and an eval_batch loop with the states
// kept on the GPU and with every state downloaded each step, and the engine's own loop (Model::eval_batch
// with generations, as completions run: states kept on the GPU, synced at the end). tokens/s there is
// the aggregate (B tokens per step); the weights' bandwidth limit applies per step, not per token.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "engine.h"
#include "formats/rwkv_bin.h"
#include "kernels/vulkan/device.h"
#include "kernels/vulkan/gpu_model.h"
#include "models/architecture.h"

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

int usage() {
  std::fprintf(stderr,
               "usage: rwkv_gpu_bench <model.bin> [--layers N] [--device I] [--decode N] [--prefill N]\n"
               "                      [--bandwidth GB/s] [--streams B] [--step T] [--check] [--profile]\n"
               "                      [--variants \"flags=0;flags=16,intdot=1;persistent=0\" [--rounds R]]\n");
  return 2;
}

float max_delta(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0;
  size_t bad = 0, first = a.size();
  for (size_t i = 0; i < a.size(); ++i) {
    const float d = std::fabs(a[i] - b[i]);
    m = std::max(m, d);
    if (d > 1e-3f) bad++, first = std::min(first, i);
  }
  if (bad && std::getenv("RWKV_BENCH_DEBUG")) std::fprintf(stderr, "  %zu of %zu differ by > 1e-3, the first at %zu\n", bad, a.size(), first);
  return m;
}

size_t argmax(const std::vector<float>& v) { return size_t(std::max_element(v.begin(), v.end()) - v.begin()); }

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t b = 0;
  for (size_t e; (e = s.find(sep, b)) != std::string::npos; b = e + 1) out.push_back(s.substr(b, e - b));
  out.push_back(s.substr(b));
  return out;
}

// --variants: GPU replay ms per token of each variant, rounds interleaved, then the median per variant.
int compare_variants(const std::string& path, const std::string& spec, int layers, int device, int decode, int rounds,
                     double bandwidth) {
  rwkv::TensorIndex index = rwkv::open_rwkv_bin(path);
  auto arch = rwkv::make_architecture(index, path);
  const rwkv::ModelInfo& info = arch->info();
  if (layers < 0) layers = info.n_layer;
  struct Variant {
    std::string name;
    std::unique_ptr<rwkv::vk::GpuModel> gpu;
    std::vector<double> ms;
  };
  std::vector<Variant> vs;
  for (const std::string& name : split(spec, ';')) {
    rwkv::vk::GpuOptions o{.layers = layers, .device = device};
    for (const std::string& kv : split(name, ',')) {
      const size_t eq = kv.find('=');
      const std::string k = kv.substr(0, eq);
      const int v = eq == std::string::npos ? 0 : std::atoi(kv.c_str() + eq + 1);
      if (k == "flags") o.persistent_flags = v;
      else if (k == "persistent") o.persistent = v;
      else if (k == "side") o.persistent_side_workgroups = v;
      else if (k == "intdot") o.int_dot = v ? 1 : 0;
      else if (k != "default") throw rwkv::Error(rwkv::ErrorCode::Argument, "--variants: unknown key '" + k + "'");
    }
    auto gpu = rwkv::vk::GpuModel::create(index, info, o);
    std::printf("variant %-28s %s, integer dot products %s\n", name.c_str(),
                gpu->persistent_decode() ? "persistent step" : "a dispatch per op", gpu->device().int_dot ? "on" : "off");
    gpu->time_decode_steps(8);  // records the step
    vs.push_back({name, std::move(gpu), {}});
  }
  for (int r = 0; r < rounds; ++r)
    for (Variant& v : vs) v.ms.push_back(v.gpu->time_decode_steps(decode) * 1e3);
  const double gb = double(vs.front().gpu->weight_bytes()) / 1e9;
  std::printf("\n| variant | ms per token, rounds | median | tokens/s | %% of %.0f GB/s |\n|---|---|---:|---:|---:|\n", bandwidth);
  for (Variant& v : vs) {
    std::string rounds_ms;
    for (double m : v.ms) rounds_ms += (rounds_ms.empty() ? "" : ", ") + std::to_string(m).substr(0, 5);
    std::vector<double> sorted = v.ms;
    std::sort(sorted.begin(), sorted.end());
    const double med = sorted[sorted.size() / 2];
    std::printf("| %s | %s | %.3f | %.0f | %.0f%% |\n", v.name.c_str(), rounds_ms.c_str(), med, 1e3 / med,
                100 * gb / (med / 1e3) / bandwidth);
  }
  return 0;
}

// GPU (first `layers` layers through the engine's offload) vs CPU logits after `prompt`, both modes.
void check(const std::string& path, int layers, int device, const rwkv::ModelInfo& info) {
  std::vector<uint32_t> prompt, longer;
  for (int i = 0; i < 12; ++i) prompt.push_back(uint32_t((i * 7919 + 13) % info.n_vocab));
  for (int i = 0; i < 100; ++i) longer.push_back(uint32_t((i * 7919 + 13) % info.n_vocab));
  auto cpu = rwkv::Model::load(path, {});
  auto gpu = rwkv::Model::load(path, {.gpu_layers = layers, .gpu_device = device, .gpu_required = true});
  {  // 100 tokens as one sequence (steps of GpuOptions::max_tokens: the prefill path)
    std::vector<float> s1 = cpu->initial_state(), s2 = gpu->initial_state(), l1(size_t(info.n_vocab)), l2(l1.size());
    cpu->eval(longer.data(), longer.size(), s1.data(), l1.data());
    gpu->eval(longer.data(), longer.size(), s2.data(), l2.data());
    float lmax = 0;
    for (float v : l1) lmax = std::max(lmax, std::fabs(v));
    std::printf("check %d/%d layers on GPU, seq x100: max|dlogit| %.3g (max|logit| %.3g), max|dstate| %.3g, top-1 %s\n",
                gpu->gpu_layers(), info.n_layer, max_delta(l1, l2), lmax, max_delta(s1, s2),
                argmax(l1) == argmax(l2) ? "same" : "DIFFERENT");
  }
  for (bool seq : {false, true}) {
    std::vector<float> s1 = cpu->initial_state(), s2 = gpu->initial_state(), l1(size_t(info.n_vocab)), l2(l1.size());
    if (seq) {
      cpu->eval(prompt.data(), prompt.size(), s1.data(), l1.data());
      gpu->eval(prompt.data(), prompt.size(), s2.data(), l2.data());
    } else {
      for (uint32_t t : prompt) cpu->eval(&t, 1, s1.data(), l1.data()), gpu->eval(&t, 1, s2.data(), l2.data());
    }
    float lmax = 0;
    for (float v : l1) lmax = std::max(lmax, std::fabs(v));
    std::printf("check %d/%d layers on GPU, %-8s: max|dlogit| %.3g (max|logit| %.3g), max|dstate| %.3g, top-1 %s\n",
                gpu->gpu_layers(), info.n_layer, seq ? "sequence" : "tokens", max_delta(l1, l2), lmax, max_delta(s1, s2),
                argmax(l1) == argmax(l2) ? "same" : "DIFFERENT");
  }
  // Batched decode through the engine (16 sequences, one token each per call, 4 calls): GPU vs CPU.
  if (info.version_major == 7) {
    constexpr int B = 16, steps = 4;
    const size_t V = size_t(info.n_vocab);
    std::vector<std::vector<float>> sc(B, cpu->initial_state()), sg(B, gpu->initial_state()), s1 = sg;
    std::vector<std::vector<float>> lc(B, std::vector<float>(V)), lg = lc, l1 = lc;
    std::vector<uint32_t> tok(B);
    for (int t = 0; t < steps; ++t) {
      std::vector<rwkv::SequenceInput> ic, ig;
      for (int b = 0; b < B; ++b) {
        tok[size_t(b)] = uint32_t((t * 7919 + b * 104729 + 13) % info.n_vocab);
        ic.push_back({&tok[size_t(b)], 1, sc[size_t(b)].data(), lc[size_t(b)].data()});
        ig.push_back({&tok[size_t(b)], 1, sg[size_t(b)].data(), lg[size_t(b)].data()});
        gpu->eval(&tok[size_t(b)], 1, s1[size_t(b)].data(), l1[size_t(b)].data());  // one at a time
      }
      cpu->eval_batch(ic);
      gpu->eval_batch(ig);
    }
    float dl = 0, ds = 0, lmax = 0, d1 = 0, d1s = 0, d1c = 0;
    int same = 0;
    for (int b = 0; b < B; ++b) {
      d1 = std::max(d1, max_delta(l1[size_t(b)], lg[size_t(b)]));
      d1s = std::max(d1s, max_delta(s1[size_t(b)], sg[size_t(b)]));
      d1c = std::max(d1c, max_delta(l1[size_t(b)], lc[size_t(b)]));
      dl = std::max(dl, max_delta(lc[size_t(b)], lg[size_t(b)]));
      ds = std::max(ds, max_delta(sc[size_t(b)], sg[size_t(b)]));
      for (float v : lc[size_t(b)]) lmax = std::max(lmax, std::fabs(v));
      same += argmax(lc[size_t(b)]) == argmax(lg[size_t(b)]);
    }
    std::printf("check %d/%d layers on GPU, batched x%d: max|dlogit| %.3g (max|logit| %.3g), max|dstate| %.3g, top-1 same %d/%d; "
                "GPU batched vs GPU one at a time: max|dlogit| %.3g, max|dstate| %.3g; GPU one at a time vs CPU: max|dlogit| %.3g\n",
                gpu->gpu_layers(), info.n_layer, B, dl, lmax, ds, same, B, d1, d1s, d1c);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string path = argv[1];
  int layers = -1, device = -1, decode = 256, prefill = 512, streams = 16, step = rwkv::vk::GpuOptions{}.max_tokens;
  double bandwidth = 3000;
  bool do_check = false, do_profile = false;
  std::string variants;
  int rounds = 3;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--check") do_check = true;
    else if (a == "--profile") do_profile = true;
    else if (const char* v = (a.rfind("--", 0) == 0 ? next() : nullptr)) {
      if (a == "--layers") layers = std::atoi(v);
      else if (a == "--device") device = std::atoi(v);
      else if (a == "--decode") decode = std::max(1, std::atoi(v));
      else if (a == "--prefill") prefill = std::max(1, std::atoi(v));
      else if (a == "--bandwidth") bandwidth = std::atof(v);
      else if (a == "--streams") streams = std::atoi(v);
      else if (a == "--step") step = std::max(1, std::atoi(v));
      else if (a == "--variants") variants = v;
      else if (a == "--rounds") rounds = std::max(1, std::atoi(v));
      else return usage();
    } else return usage();
  }
  try {
    std::string why;
    for (const auto& d : rwkv::vk::list_devices(&why))
      std::printf("vulkan device %d: %s (%s, %.1f GiB, subgroup %u)%s%s\n", d.index, d.name.c_str(), d.type.c_str(),
                  double(d.device_local_bytes) / (1u << 30), d.subgroup_size, d.usable ? "" : " unusable: ", d.why_not.c_str());
    if (!why.empty()) std::printf("vulkan: %s\n", why.c_str());
    if (!variants.empty()) return compare_variants(path, variants, layers, device, decode, rounds, bandwidth);

    rwkv::TensorIndex index = rwkv::open_rwkv_bin(path);
    auto arch = rwkv::make_architecture(index, path);
    const rwkv::ModelInfo& info = arch->info();
    if (layers < 0) layers = info.n_layer;
    double t0 = now();
    auto gpu = rwkv::vk::GpuModel::create(index, info, {.layers = layers, .device = device, .max_tokens = step});
    const double load_s = now() - t0;
    const int64_t C = info.n_embd;
    const double gb = double(gpu->weight_bytes()) / 1e9;
    std::printf("model %s: v%s, %d layers, C %d, vocab %d, type %s; %d layers%s on %s; %.3f GB of weights on the GPU "
                "(uploaded in %.1f s); one-token step: %s\n",
                path.c_str(), info.version_string().c_str(), info.n_layer, info.n_embd, info.n_vocab,
                rwkv::dtype_name(info.data_type), gpu->layers(), gpu->runs_head() ? " + head" : "", gpu->device().name.c_str(),
                gb, load_s, gpu->persistent_decode() ? "persistent (one dispatch)" : "a dispatch per op");

    std::vector<float> state(size_t(info.state_size())), logits(size_t(info.n_vocab)), x(size_t(C) * size_t(prefill));
    for (int l = 0; l < info.n_layer; ++l) arch->init_layer_state(state.data() + l * info.state_floats_per_layer());
    std::vector<float> state0 = state;

    // Prefill: `prefill` tokens as one sequence (GPU steps of `step`), state uploaded once.
    for (int t = 0; t < prefill; ++t) arch->embed(uint32_t((t * 31 + 7) % info.n_vocab), x.data() + size_t(t) * C);
    gpu->eval(x.data(), prefill, state.data(), nullptr, logits.data());  // warm-up: records the steps
    state = state0;
    t0 = now();
    gpu->eval(x.data(), prefill, state.data(), nullptr, logits.data());
    const double prefill_s = now() - t0;
    std::printf("prefill %d tokens (steps of %d, %s): %.1f ms, %.0f tokens/s\n", prefill, step,
                gpu->device().coop_matrix ? "cooperative-matrix GEMM" : "matvec", prefill_s * 1e3, prefill / prefill_s);

    // Decode, GPU time only: one submission replaying the one-token step.
    gpu->time_decode_steps(8);
    const double step_s = gpu->time_decode_steps(decode);
    std::printf("decode (GPU replay x%d): %.3f ms/token, %.0f tokens/s, %.0f GB/s = %.0f%% of %.0f GB/s\n", decode,
                step_s * 1e3, 1 / step_s, gb / step_s, 100 * gb / step_s / bandwidth, bandwidth);

    // Decode as an application runs it: greedy, state on the GPU, logits back every token.
    uint32_t tok = 0;
    const rwkv::vk::StateSync resident{.generation = 1, .download = false};
    gpu->eval(x.data(), 1, state.data(), nullptr, logits.data());  // uploads the state once
    t0 = now();
    double in_eval = 0;
    for (int i = 0; i < decode; ++i) {
      arch->embed(tok, x.data());
      const double e0 = now();
      gpu->eval(x.data(), 1, state.data(), nullptr, logits.data(), resident);
      in_eval += now() - e0;
      tok = uint32_t(argmax(logits));
    }
    const double loop_s = (now() - t0) / decode;
    std::printf("decode (eval loop, state on GPU): %.3f ms/token, %.0f tokens/s, %.0f GB/s = %.0f%% of %.0f GB/s\n",
                loop_s * 1e3, 1 / loop_s, gb / loop_s, 100 * gb / loop_s / bandwidth, bandwidth);
    std::printf("  of which in GpuModel::eval %.3f ms/token (GPU replay %.3f), embed and argmax %.3f\n", in_eval / decode * 1e3,
                step_s * 1e3, loop_s * 1e3 - in_eval / decode * 1e3);

    // The engine's default: state uploaded and downloaded every call.
    const int n_sync = std::min(decode, 64);
    t0 = now();
    for (int i = 0; i < n_sync; ++i) {
      arch->embed(tok, x.data());
      gpu->eval(x.data(), 1, state.data(), nullptr, logits.data());
      tok = uint32_t(argmax(logits));
    }
    const double sync_s = (now() - t0) / n_sync;
    std::printf("decode (eval loop, state synced each token, %.1f MB each way): %.3f ms/token, %.0f tokens/s\n",
                double(info.state_floats_per_layer()) * gpu->layers() * 4 / 1e6, sync_s * 1e3, 1 / sync_s);

    if (streams >= 2 && gpu->can_batch(streams)) {
      const int B = streams;
      std::vector<std::vector<float>> bstates(size_t(B), state0);
      std::vector<std::vector<float>> blogits(size_t(B), std::vector<float>(size_t(info.n_vocab)));
      std::vector<float*> sp, lp;
      std::vector<uint64_t> gens;
      std::vector<uint32_t> toks(static_cast<size_t>(B));
      for (int b = 0; b < B; ++b) sp.push_back(bstates[size_t(b)].data()), lp.push_back(blogits[size_t(b)].data()), gens.push_back(uint64_t(100 + b));
      std::vector<float> xb(size_t(B) * size_t(C));
      auto embed_all = [&] {
        for (int b = 0; b < B; ++b) arch->embed(toks[size_t(b)] = uint32_t((toks[size_t(b)] + 17 * b + 1) % info.n_vocab), xb.data() + size_t(b) * C);
      };
      embed_all();
      gpu->eval_batch(xb.data(), B, sp.data(), gens.data(), nullptr, lp.data());  // records the step, uploads the states
      gpu->time_decode_batch_steps(B, 4);
      const double bstep = gpu->time_decode_batch_steps(B, decode);
      std::printf("batched decode x%d (GPU replay x%d): %.3f ms/step, %.0f tokens/s aggregate (%.0f per stream), weights %.0f GB/s\n",
                  B, decode, bstep * 1e3, B / bstep, 1 / bstep, gb / bstep);
      for (int b = 0; b < B; ++b) gens[size_t(b)] += 1000;  // the replay moved the GPU slots on: upload again
      gpu->eval_batch(xb.data(), B, sp.data(), gens.data(), nullptr, lp.data(), false);
      t0 = now();
      for (int i = 0; i < decode; ++i) {
        embed_all();
        gpu->eval_batch(xb.data(), B, sp.data(), gens.data(), nullptr, lp.data(), false);
        for (int b = 0; b < B; ++b) toks[size_t(b)] = uint32_t(argmax(blogits[size_t(b)]));
      }
      const double bloop = (now() - t0) / decode;
      std::printf("batched decode x%d (eval_batch loop, states on GPU): %.3f ms/step, %.0f tokens/s aggregate\n", B, bloop * 1e3,
                  B / bloop);
      const int n_b = std::min(decode, 32);
      t0 = now();
      for (int i = 0; i < n_b; ++i) {
        embed_all();
        gpu->eval_batch(xb.data(), B, sp.data(), gens.data(), nullptr, lp.data(), true);
        for (int b = 0; b < B; ++b) toks[size_t(b)] = uint32_t(argmax(blogits[size_t(b)]));
      }
      const double bsync = (now() - t0) / n_b;
      std::printf("batched decode x%d (eval_batch loop, states downloaded each step, %.1f MB): %.3f ms/step, %.0f tokens/s aggregate\n",
                  B, double(info.state_floats_per_layer()) * gpu->layers() * 4 * B / 1e6, bsync * 1e3, B / bsync);
    }
    // RWKV_VK_SHADER_STATS=1: what the driver made of every pipeline built so far (registers, spills).
    if (const std::string stats = gpu->shader_statistics(); !stats.empty()) std::printf("shader statistics:\n%s", stats.c_str());
    if (do_profile) {
      std::printf("%s%s", gpu->profile_decode(5).c_str(), gpu->profile_decode(5, std::min(prefill, step)).c_str());
      if (streams >= 2 && gpu->can_batch(streams)) std::printf("%s", gpu->profile_decode(5, streams, true).c_str());
    }
    gpu.reset();
    if (streams >= 2 && info.version_major == 7) {
      // The engine as a server's completions drive it: Model::eval_batch with a generation per sequence
      // (the states stay in the GPU's batch slots between steps), then every state synced at the end.
      auto model = rwkv::Model::load(path, {.gpu_layers = layers, .gpu_device = device, .gpu_required = true});
      const int B = streams;
      std::vector<std::vector<float>> st(size_t(B), model->initial_state());
      std::vector<std::vector<float>> lg(size_t(B), std::vector<float>(size_t(info.n_vocab)));
      std::vector<uint32_t> tk(static_cast<size_t>(B));
      std::vector<rwkv::SequenceInput> in;
      std::vector<uint64_t> gens;
      for (int b = 0; b < B; ++b) gens.push_back(model->new_state_generation()), tk[size_t(b)] = uint32_t(1 + 17 * b);
      auto one_step = [&] {
        in.clear();
        for (int b = 0; b < B; ++b) in.push_back({&tk[size_t(b)], 1, st[size_t(b)].data(), lg[size_t(b)].data(), gens[size_t(b)]});
        model->eval_batch(in);
        for (int b = 0; b < B; ++b) tk[size_t(b)] = uint32_t(argmax(lg[size_t(b)]));
      };
      one_step();
      t0 = now();
      for (int i = 0; i < decode; ++i) one_step();
      for (int b = 0; b < B; ++b) model->sync_state(st[size_t(b)].data());
      const double estep = (now() - t0) / decode;
      std::printf("batched decode x%d (engine: Model::eval_batch with generations, states synced at the end): %.3f ms/step, "
                  "%.0f tokens/s aggregate\n", B, estep * 1e3, B / estep);
    }
    if (do_check) {
      check(path, info.n_layer, device, info);
      check(path, info.n_layer / 2, device, info);
    }
  } catch (const rwkv::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
