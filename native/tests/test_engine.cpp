// Engine behaviour beyond the reference logits: sequence mode in chunks, reduced-precision files
// against their FP32 model, concurrency, and argument errors.
#include <gtest/gtest.h>

#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine.h"
#include "generate/generation.h"
#include "kernels/cpu/matvec.h"
#include "quantize/quantize_model.h"
#include "tokenizer/tokenizer.h"
#include "test_support.h"

using namespace rwkv;

namespace {

const char* kEnglish =
    "The old lighthouse keeper climbed the stairs every evening, counting the steps as his father had taught him. "
    "There were one hundred and twelve of them, worn smooth in the middle by a century of boots. At the top he "
    "trimmed the wick, polished the great lens, and watched the ships come home across the grey water. Some nights "
    "the fog rolled in so thick that he could not see his own hand, and on those nights he rang the bell until dawn.";

std::vector<uint32_t> bytes_of(const std::string& s) { return std::vector<uint32_t>(s.begin(), s.end()); }

struct Stepwise {
  std::vector<std::vector<float>> logits;  // after each token
  std::vector<float> state;
};

Stepwise run_stepwise(Model& m, const std::vector<uint32_t>& tokens) {
  Stepwise r;
  r.state = m.initial_state();
  std::vector<float> logits(size_t(m.info().n_vocab));
  for (uint32_t t : tokens) {
    m.eval(&t, 1, r.state.data(), logits.data());
    r.logits.push_back(logits);
  }
  return r;
}

float max_abs(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

size_t argmax(const std::vector<float>& v) { return size_t(std::max_element(v.begin(), v.end()) - v.begin()); }

// ---- sequence mode in chunks equals token-by-token mode ------------------------------------------

class ChunkedSequence : public ::testing::TestWithParam<const char*> {};

TEST_P(ChunkedSequence, AnyChunkSizeGivesTheTokenByTokenState) {
  const std::string file = GetParam();
  auto model = Model::load(test::tiny_model(file), {.threads = 2});
  const std::vector<uint32_t> tokens = bytes_of(std::string(kEnglish).substr(0, 150));
  const Stepwise ref = run_stepwise(*model, tokens);
  // Chunk 1 is the token-by-token path itself: bit-identical. Longer chunks use the same row kernels for
  // every product (bit-identical, asserted) on CPUs with the AVX-512 kernels; elsewhere float matrices go to
  // OpenBLAS sgemm, which sums in another order. The bounds below cover that case: the state agrees to
  // float rounding, and in quantized files that rounding can flip an 8-bit activation code, so their
  // logits get a looser bound.
  const bool quantized = model->info().data_type != DType::F32 && model->info().data_type != DType::F16;
  // With the AVX-512 kernels every path keeps the bits (prompt GEMMs, the gathered WKV-7 of a prompt).
  const bool exact_kernels = &cpu::best_kernels() != &cpu::reference_kernels();
  for (size_t chunk : {size_t(1), size_t(2), size_t(7), size_t(64)}) {
    std::vector<float> state = model->initial_state(), logits(size_t(model->info().n_vocab));
    model->eval(tokens.data(), tokens.size(), state.data(), logits.data(), chunk);
    float state_diff = 0, scale = 0;
    for (size_t i = 0; i < state.size(); ++i) {
      state_diff = std::max(state_diff, std::fabs(state[i] - ref.state[i]));
      scale = std::max(scale, std::fabs(ref.state[i]));
    }
    if (chunk == 1 || exact_kernels) {
      EXPECT_EQ(state, ref.state) << file << " chunk " << chunk;
      EXPECT_EQ(logits, ref.logits.back()) << file << " chunk " << chunk;
    } else {
      EXPECT_LE(state_diff, (quantized ? 2e-2f : 1e-4f) * std::max(1.0f, scale)) << file << " chunk " << chunk;
      EXPECT_LT(max_abs(logits, ref.logits.back()), quantized ? 0.1f : 1e-3f) << file << " chunk " << chunk;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(TinyModels, ChunkedSequence,
                         ::testing::Values("tiny-rwkv-4v0-660K-FP32", "tiny-rwkv-5v1-730K-FP32", "tiny-rwkv-5v2-730K-FP32",
                                           "tiny-rwkv-6v0-1m-FP32", "tiny-rwkv-7v0-834K-FP32", "tiny-rwkv-7v0-834K-FP16",
                                           "tiny-rwkv-5v2-730K-Q5_1", "tiny-rwkv-6v0-3m-Q5_0", "tiny-rwkv-7v0-834K-Q5_0"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s) if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return s;
                         });

// ---- FP16 and quantized files stay close to their FP32 model -------------------------------------

struct Closeness {
  float max_delta = 0;
  double top1 = 0;
};

Closeness compare_to(Model& reference, Model& candidate, const std::vector<uint32_t>& tokens) {
  const Stepwise a = run_stepwise(reference, tokens), b = run_stepwise(candidate, tokens);
  Closeness c;
  size_t agree = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    c.max_delta = std::max(c.max_delta, max_abs(a.logits[i], b.logits[i]));
    agree += argmax(a.logits[i]) == argmax(b.logits[i]);
  }
  c.top1 = double(agree) / double(tokens.size());
  return c;
}

struct FormatCase {
  const char* stem;    // e.g. 7v0-834K
  const char* format;  // FP16, Q5_0, ... or "FP32->Q8_0" for files the quantizer writes
  float max_delta;     // bound on max |logit delta| over the text
  double min_top1;     // bound on top-1 agreement
};

class FormatFidelity : public ::testing::TestWithParam<FormatCase> {};

TEST_P(FormatFidelity, LogitsStayCloseToFp32) {
  const FormatCase c = GetParam();
  const std::string stem = std::string("tiny-rwkv-") + c.stem;
  auto fp32 = Model::load(test::tiny_model(stem + "-FP32"), {.threads = 2});
  std::string path;
  std::string format = c.format;
  const size_t arrow = format.find("->");
  if (arrow == std::string::npos) {
    path = test::tiny_model(stem + "-" + format);
  } else {
    DType type;
    ASSERT_TRUE(dtype_from_name(format.substr(arrow + 2), &type));
    path = (std::filesystem::temp_directory_path() / (stem + "-" + format.substr(0, arrow) + "-to-" + format.substr(arrow + 2) + ".bin")).string();
    quantize_model_file(test::tiny_model(stem + "-" + format.substr(0, arrow)), path, type);
  }
  auto candidate = Model::load(path, {.threads = 2});
  const Closeness r = compare_to(*fp32, *candidate, bytes_of(kEnglish));
  RecordProperty("max_delta", std::to_string(r.max_delta));
  RecordProperty("top1", std::to_string(r.top1));
  std::printf("    %-20s %-12s max|delta| %.5f  top-1 agreement %.3f\n", c.stem, c.format, r.max_delta, r.top1);
  EXPECT_LE(r.max_delta, c.max_delta);
  EXPECT_GE(r.top1, c.min_top1);
  if (arrow != std::string::npos) std::filesystem::remove(path);
}

// Bounds: the measured values (the test prints them; README lists them) with headroom. v4's FFN is near zero
// (a training accident upstream), so its logits barely move; 5v1 was trained short and is the most
// sensitive to quantization, as rwkv.cpp's own budgets show (engine-spec 9.3).
INSTANTIATE_TEST_SUITE_P(
    TinyModels, FormatFidelity,
    ::testing::Values(
        FormatCase{"4v0-660K", "FP16", 0.02f, 0.99}, FormatCase{"4v0-660K", "Q5_0", 0.4f, 0.97}, FormatCase{"4v0-660K", "Q5_1", 0.4f, 0.97},
        FormatCase{"5v1-730K", "FP16", 0.05f, 0.99}, FormatCase{"5v1-730K", "Q5_0", 2.5f, 0.85}, FormatCase{"5v1-730K", "Q5_1", 2.5f, 0.85},
        FormatCase{"5v2-730K", "FP16", 0.05f, 0.99}, FormatCase{"5v2-730K", "Q5_0", 2.5f, 0.85}, FormatCase{"5v2-730K", "Q5_1", 2.5f, 0.85},
        FormatCase{"6v0-1m", "FP16", 0.05f, 0.99}, FormatCase{"6v0-1m", "Q5_0", 2.5f, 0.95}, FormatCase{"6v0-1m", "Q5_1", 2.5f, 0.95},
        FormatCase{"7v0-834K", "FP16", 0.01f, 0.99}, FormatCase{"7v0-834K", "Q5_0", 0.1f, 0.98}, FormatCase{"7v0-834K", "Q5_1", 0.1f, 0.98},
        FormatCase{"7v0-834K", "FP32->Q8_0", 0.05f, 0.99}, FormatCase{"7v0-834K", "FP32->Q4_0", 0.3f, 0.97},
        FormatCase{"7v0-834K", "FP32->Q4_1", 0.3f, 0.97}, FormatCase{"7v0-834K", "FP16->Q5_1", 0.1f, 0.98},
        FormatCase{"6v0-1m", "FP32->Q8_0", 0.8f, 0.97}, FormatCase{"6v0-1m", "FP16->Q4_0", 4.0f, 0.90},
        FormatCase{"5v2-730K", "FP32->Q8_0", 0.8f, 0.95}, FormatCase{"5v1-730K", "FP16->Q8_0", 0.8f, 0.95},
        FormatCase{"4v0-660K", "FP32->Q4_1", 0.8f, 0.95}, FormatCase{"4v0-660K", "FP16->Q8_0", 0.2f, 0.98}),
    [](const auto& info) {
      std::string s = std::string(info.param.stem) + "_" + info.param.format;
      for (char& c : s) if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      return s;
    });

// ---- concurrency ----------------------------------------------------------------------------------

TEST(Engine, ConcurrentStatesMatchSequentialOnes) {
  auto model = Model::load(test::tiny_model("tiny-rwkv-7v0-834K-FP32"), {.threads = 2});
  const std::vector<uint32_t> a = bytes_of("The lighthouse keeper"), b = bytes_of("Fog rolled over the grey water");
  const Stepwise ra = run_stepwise(*model, a), rb = run_stepwise(*model, b);
  Stepwise ca, cb;
  std::thread t1([&] { ca = run_stepwise(*model, a); });
  std::thread t2([&] { cb = run_stepwise(*model, b); });
  t1.join();
  t2.join();
  EXPECT_EQ(ca.state, ra.state);
  EXPECT_EQ(cb.state, rb.state);
  EXPECT_EQ(ca.logits.back(), ra.logits.back());
  EXPECT_EQ(cb.logits.back(), rb.logits.back());
}

// ---- arguments ------------------------------------------------------------------------------------

// eval() handed to the model's home thread from callers on different threads: every call runs on one
// thread, gives the bits a direct call gives, and an error thrown there reaches the caller.
TEST(Engine, HomeThreadRunsEveryCallOnOneThread) {
  auto m = Model::load(test::tiny_model("tiny-rwkv-7v0-834K-FP32"));
  const uint32_t tokens[] = {1, 2, 3};
  std::vector<float> direct = m->initial_state(), logits_direct(size_t(m->info().n_vocab));
  m->eval(tokens, 3, direct.data(), logits_direct.data());
  std::vector<std::thread::id> ran;
  for (int caller = 0; caller < 3; ++caller) {
    std::thread([&] {
      std::vector<float> state = m->initial_state(), logits(size_t(m->info().n_vocab));
      m->on_home_thread([&] {
        ran.push_back(std::this_thread::get_id());
        m->eval(tokens, 3, state.data(), logits.data());
      });
      EXPECT_EQ(state, direct);
      EXPECT_EQ(logits, logits_direct);
    }).join();
  }
  ASSERT_EQ(ran.size(), 3u);
  EXPECT_EQ(ran[0], ran[1]);
  EXPECT_EQ(ran[1], ran[2]);
  EXPECT_NE(ran[0], std::this_thread::get_id());
  const uint32_t bad = uint32_t(m->info().n_vocab);
  std::vector<float> state = m->initial_state();
  EXPECT_THROW(m->on_home_thread([&] { m->eval(&bad, 1, state.data(), nullptr); }), Error);
}

// Calls posted without waiting (the addon's eval) run on the home thread in the order posted, also mixed
// with calls that wait; a posted call's error stays in it (it reports its own end).
TEST(Engine, HomeThreadRunsPostedCallsInOrder) {
  auto m = Model::load(test::tiny_model("tiny-rwkv-7v0-834K-FP32"));
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> order;
  std::thread::id home;
  m->on_home_thread([&] { home = std::this_thread::get_id(); });
  for (int i = 0; i < 50; ++i) {
    m->post_to_home_thread([&, i] {
      std::lock_guard<std::mutex> lock(mu);
      EXPECT_EQ(std::this_thread::get_id(), home);
      order.push_back(i);
      cv.notify_all();
    });
    if (i == 20) m->on_home_thread([&] { order.push_back(-1); });  // waits behind calls 0..20
    if (i == 30) m->post_to_home_thread([] { throw Error(ErrorCode::Argument, "dropped"); });
  }
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return order.size() == 51; });
  std::vector<int> want;
  for (int i = 0; i < 50; ++i) {
    want.push_back(i);
    if (i == 20) want.push_back(-1);
  }
  EXPECT_EQ(order, want);
}

TEST(Engine, RejectsTokenOutsideVocabularyWithoutTouchingState) {
  auto model = Model::load(test::tiny_model("tiny-rwkv-5v2-730K-FP32"), {.threads = 1});
  std::vector<float> state = model->initial_state();
  const std::vector<float> before = state;
  const uint32_t tokens[3] = {65, 300, 66};
  try {
    model->eval(tokens, 3, state.data(), nullptr);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Argument);
    EXPECT_NE(std::string(e.what()).find("token id 300 at position 1"), std::string::npos) << e.what();
  }
  EXPECT_EQ(state, before);
}

TEST(Engine, V4InitialStateHasMinusInfinityExponent) {
  auto model = Model::load(test::tiny_model("tiny-rwkv-4v0-660K-FP32"), {.threads = 1});
  const std::vector<float> s = model->initial_state();
  const int64_t C = model->info().n_embd;
  ASSERT_EQ(s.size(), size_t(5 * C * model->info().n_layer));
  EXPECT_EQ(s[0], 0.0f);
  EXPECT_EQ(s[size_t(4 * C)], -1e30f);  // pp of layer 0
  EXPECT_EQ(s[size_t(5 * C + 4 * C + 7)], -1e30f);  // pp of layer 1
}

// ---- prompt passes: their default length, and stopping one between layers ------------------------

TEST(Engine, PromptPassTokensFollowTheModelWidth) {
  EXPECT_EQ(default_pass_tokens(768, false), 512u);
  EXPECT_EQ(default_pass_tokens(1024, false), 512u);
  EXPECT_EQ(default_pass_tokens(1536, false), 256u);
  EXPECT_EQ(default_pass_tokens(2048, false), 256u);
  EXPECT_EQ(default_pass_tokens(2560, false), 128u);
  EXPECT_EQ(default_pass_tokens(4096, false), 128u);
  EXPECT_EQ(default_pass_tokens(4096, true), 512u);
  auto model = Model::load(test::tiny_model("tiny-rwkv-7v0-834K-FP32"), {.threads = 1});
  EXPECT_EQ(model->prompt_pass_tokens(), 512u);  // a tiny model is narrow
}

TEST(Engine, CancelledPassLeavesStatesAndLogitsAsTheyWere) {
  for (const char* file : {"tiny-rwkv-7v0-834K-FP32", "tiny-rwkv-5v2-730K-FP16"}) {
    SCOPED_TRACE(file);
    auto model = Model::load(test::tiny_model(file), {.threads = 2});
    const std::vector<uint32_t> prefix = bytes_of("The old lighthouse keeper "), prompt = bytes_of(kEnglish);
    std::vector<float> a = model->initial_state(), b = model->initial_state();
    model->eval(prefix.data(), prefix.size(), a.data(), nullptr);
    model->eval(prefix.data(), prefix.size(), b.data(), nullptr);
    const std::vector<float> a0 = a, b0 = b;
    std::vector<float> la(size_t(model->info().n_vocab), -7.0f), lb = la;
    const std::vector<float> l0 = la;
    const int layers = model->info().n_layer;
    // Asked once before the pass and once before each layer after the first: stop before layer 2.
    int asked = 0;
    const bool done = model->eval_batch({{prompt.data(), prompt.size(), a.data(), la.data()},
                                         {prompt.data(), 40, b.data(), lb.data()}},
                                        [&] { return ++asked > 2; });
    EXPECT_FALSE(done);
    EXPECT_EQ(asked, 3);
    ASSERT_GT(layers, 2);
    EXPECT_EQ(a, a0);
    EXPECT_EQ(b, b0);
    EXPECT_EQ(la, l0);
    EXPECT_EQ(lb, l0);
    // The model is intact: the same pass, never cancelled, gives the bits of an uncancellable one.
    asked = 0;
    EXPECT_TRUE(model->eval_batch({{prompt.data(), prompt.size(), a.data(), la.data()}}, [&] { return ++asked < 0; }));
    EXPECT_EQ(asked, layers);
    std::vector<float> c = a0, lc(la.size());
    model->eval_batch({{prompt.data(), prompt.size(), c.data(), lc.data()}});
    EXPECT_EQ(a, c);
    EXPECT_EQ(la, lc);
    // Cancelled before it starts: nothing runs.
    const uint64_t evaluated = model->tokens_evaluated();
    EXPECT_FALSE(model->eval_batch({{prompt.data(), prompt.size(), c.data(), lc.data()}}, [] { return true; }));
    EXPECT_EQ(model->tokens_evaluated(), evaluated);
  }
}

TEST(Engine, AbortDuringAPromptPassReturnsTheStateBeforeIt) {
  auto model = Model::load(test::tiny_model("tiny-rwkv-7v0-834K-FP32"), {.threads = 2});
  const auto tokenizer = Tokenizer::bytes();
  GenerationRequest req;
  req.prompt = bytes_of(kEnglish);  // 428 bytes: two passes of 300
  req.batch_size = 300;
  req.max_tokens = 4;
  req.use_cache = false;
  // Polled before each pass, then by the engine at the pass's start and before each later layer (1 + n
  // polls a pass): abort before layer 2 of the second pass.
  int polls = 0;
  const int n = model->info().n_layer;
  ASSERT_GT(n, 2);
  const int stop_at = (1 + n) + 1 + 1 + 2;
  GenerationResult res = generate({*model, *tokenizer}, req, {.on_text = {}, .aborted = [&] { return ++polls >= stop_at; }});
  EXPECT_EQ(res.finish_reason, "abort");
  EXPECT_EQ(polls, stop_at);
  EXPECT_EQ(res.prompt_tokens_evaluated, 300u);
  EXPECT_TRUE(res.tokens.empty());
  // The state is the one after the first pass.
  std::vector<float> want = model->initial_state();
  model->eval(req.prompt.data(), 300, want.data(), nullptr);
  ASSERT_EQ(res.states.size(), 1u);
  EXPECT_EQ(res.states[0], want);
}

TEST(Engine, StateSizesFollowRwkvCppLayout) {
  EXPECT_EQ(Model::load(test::tiny_model("tiny-rwkv-4v0-660K-FP32"))->info().state_size(), 2560);
  EXPECT_EQ(Model::load(test::tiny_model("tiny-rwkv-5v1-730K-FP32"))->info().state_size(), 7680);
  EXPECT_EQ(Model::load(test::tiny_model("tiny-rwkv-6v0-3m-Q5_0"))->info().state_size(), 15360);
  EXPECT_EQ(Model::load(test::tiny_model("tiny-rwkv-7v0-834K-FP32"))->info().state_size(), 50688);
}

}  // namespace

// ---- batched passes ---------------------------------------------------------------------------------

class BatchedDecode : public ::testing::TestWithParam<const char*> {};

TEST_P(BatchedDecode, SequencesDecodedTogetherGetTheBitsTheyGetAlone) {
  auto model = Model::load(test::tiny_model(GetParam()), {.threads = 2});
  const std::vector<std::string> prompts = {"The lighthouse", "Fog rolled in", "Once upon a time there", "A"};
  const size_t V = size_t(model->info().n_vocab);
  // Alone: each prompt, then 8 greedy steps.
  std::vector<std::vector<uint32_t>> alone_tokens;
  std::vector<std::vector<float>> alone_states;
  for (const auto& p : prompts) {
    std::vector<float> state = model->initial_state(), logits(V);
    const auto toks = bytes_of(p);
    model->eval(toks.data(), toks.size(), state.data(), logits.data());
    std::vector<uint32_t> out;
    for (int i = 0; i < 8; ++i) {
      const uint32_t t = uint32_t(argmax(logits));
      out.push_back(t);
      model->eval(&t, 1, state.data(), logits.data());
    }
    alone_tokens.push_back(out);
    alone_states.push_back(state);
  }
  // Together: the prompts in one batched pass (different lengths), then the 8 steps batched.
  std::vector<std::vector<float>> states, logits;
  std::vector<std::vector<uint32_t>> toks;
  for (const auto& p : prompts) {
    states.push_back(model->initial_state());
    logits.emplace_back(V);
    toks.push_back(bytes_of(p));
  }
  std::vector<SequenceInput> in;
  for (size_t s = 0; s < prompts.size(); ++s) in.push_back({toks[s].data(), toks[s].size(), states[s].data(), logits[s].data()});
  model->eval_batch(in);
  std::vector<std::vector<uint32_t>> together(prompts.size());
  for (int i = 0; i < 8; ++i) {
    std::vector<uint32_t> next(prompts.size());
    in.clear();
    for (size_t s = 0; s < prompts.size(); ++s) {
      next[s] = uint32_t(argmax(logits[s]));
      together[s].push_back(next[s]);
    }
    for (size_t s = 0; s < prompts.size(); ++s) in.push_back({&next[s], 1, states[s].data(), logits[s].data()});
    model->eval_batch(in);
  }
  for (size_t s = 0; s < prompts.size(); ++s) {
    EXPECT_EQ(together[s], alone_tokens[s]) << prompts[s];
    // The prompt pass differs from a lone one only by sgemm's summation order over more rows.
    float diff = 0;
    for (size_t i = 0; i < states[s].size(); ++i) diff = std::max(diff, std::fabs(states[s][i] - alone_states[s][i]));
    EXPECT_LT(diff, 1e-3f) << prompts[s];
  }
}

TEST_P(BatchedDecode, SingleTokenStepsAreBitIdentical) {
  auto model = Model::load(test::tiny_model(GetParam()), {.threads = 2});
  const size_t V = size_t(model->info().n_vocab);
  const std::vector<uint32_t> a = bytes_of("abcdef"), b = bytes_of("zyxwvu");
  std::vector<float> sa = model->initial_state(), sb = model->initial_state(), la(V), lb(V);
  std::vector<float> ra = model->initial_state(), rb = model->initial_state(), rla(V), rlb(V);
  for (size_t i = 0; i < a.size(); ++i) {
    model->eval_batch({{&a[i], 1, sa.data(), la.data()}, {&b[i], 1, sb.data(), lb.data()}});
    model->eval(&a[i], 1, ra.data(), rla.data());
    model->eval(&b[i], 1, rb.data(), rlb.data());
  }
  EXPECT_EQ(sa, ra);
  EXPECT_EQ(sb, rb);
  EXPECT_EQ(la, rla);
  EXPECT_EQ(lb, rlb);
}

INSTANTIATE_TEST_SUITE_P(TinyModels, BatchedDecode,
                         ::testing::Values("tiny-rwkv-4v0-660K-FP32", "tiny-rwkv-5v1-730K-FP16", "tiny-rwkv-5v2-730K-Q5_1",
                                           "tiny-rwkv-6v0-1m-FP32", "tiny-rwkv-7v0-834K-Q5_0", "tiny-rwkv-7v0-834K-FP32"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s) if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return s;
                         });
