#include "models/architecture.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "kernels/cpu/ops.h"

namespace rwkv {

std::string ModelInfo::version_string() const {
  if (version_major == 5) return "5." + std::to_string(version_minor);
  return std::to_string(version_major);
}

int64_t ModelInfo::state_floats_per_layer() const {
  return version_major == 4 ? int64_t(5) * n_embd : int64_t(2 + head_size) * n_embd;
}

Architecture::Architecture(const ModelInfo& info, const WeightBinder& w) : info_(info) {
  const int64_t C = info.n_embd, V = info.n_vocab;
  emb_ = w.mat("emb.weight", C, V);
  ln0_w_ = w.vec("blocks.0.ln0.weight", C);
  ln0_b_ = w.vec("blocks.0.ln0.bias", C);
  ln_out_w_ = w.vec("ln_out.weight", C);
  ln_out_b_ = w.vec("ln_out.bias", C);
  head_ = w.mat("head.weight", C, V);
}

void save_shift(const Batch& b, const float* rows, int64_t C, int64_t xx_offset) {
  for (const SeqSpan& s : b.seqs) std::copy(rows + (s.start + s.len - 1) * C, rows + (s.start + s.len) * C, s.state + xx_offset);
}

void layer_norm_rows(const float* x, const float* w, const float* b, int64_t C, int64_t rows, float* out, Workspace& ws) {
  for_tokens(rows, ws, [&](int64_t t) { cpu::layer_norm(x + t * C, w, b, C, 1e-5f, out + t * C); });
}

void Architecture::init_layer_state(float* layer_state) const {
  std::memset(layer_state, 0, size_t(info_.state_floats_per_layer()) * sizeof(float));
}

void Architecture::embed(uint32_t token, float* x) const {
  const int64_t C = info_.n_embd;
  // The row comes from the file through pread, not through the mapping: a prompt touches rows scattered
  // over the whole table (128-256 MB for 0.4B-1.5B), and a fault on one of them maps the page-cache folio
  // around it, so that on kernels with large folios a 512-token prompt mapped nearly all of the table into
  // the process (peak RSS over the file size, BENCHMARKS.md). One pread of a row costs ~1 us, next to
  // milliseconds for the token's layers.
  const uint8_t* row = emb_.row(token);
  thread_local std::vector<uint8_t> copy;
  if (emb_file_) {
    copy.resize(emb_.row_bytes());
    if (emb_file_->read(row, copy.data(), copy.size())) row = copy.data();
  }
  // In place: layer_norm takes its statistics before it writes, so x can be both input and output.
  dequantize_row(emb_.dtype, row, x, C);
  cpu::layer_norm(x, ln0_w_.data(), ln0_b_.data(), C, 1e-5f, x);
}

void Architecture::head(const float* x, int64_t rows, float* logits, Workspace& ws) const {
  const int64_t C = info_.n_embd;
  float* normed = ws.arena.take(size_t(rows * C));
  for (int64_t r = 0; r < rows; ++r) cpu::layer_norm(x + r * C, ln_out_w_.data(), ln_out_b_.data(), C, 1e-5f, normed + r * C);
  ws.linear.run(head_, normed, rows, logits);
}

namespace {

uint64_t count_params(const TensorIndex& index) {
  uint64_t n = 0;
  for (const auto& [name, t] : index.tensors) n += uint64_t(t.elements());
  return n;
}

}  // namespace

std::unique_ptr<Architecture> make_architecture(const TensorIndex& index, const std::string& label) {
  WeightBinder w(index, label);
  ModelInfo info;
  const RwkvBinHeader& h = index.header;
  info.n_layer = int(h.n_layer);
  info.n_embd = int(h.n_embed);
  info.n_vocab = int(h.n_vocab);
  info.data_type = DType(h.data_type);
  info.file_bytes = index.file ? index.file->size() : 0;
  info.params = count_params(index);
  for (const auto& [name, t] : index.tensors)
    if (name != "emb.weight") info.decode_bytes += t.nbytes;
  if (const Tensor* e = index.find("emb.weight")) info.decode_bytes += e->row_bytes();

  // Detection, as rwkv.cpp does it (engine-spec 1.2): later rules override earlier ones.
  info.version_major = 4;
  if (w.has("blocks.0.att.ln_x.weight")) {
    info.version_major = 5;
    info.version_minor = w.has("blocks.0.att.gate.weight") ? 2 : 1;
  }
  if (w.has("blocks.0.att.time_maa_x")) info.version_major = 6, info.version_minor = 0;
  if (w.has("blocks.0.att.r_k")) info.version_major = 7, info.version_minor = 0;

  const int64_t C = info.n_embd;
  // Head count: v5/v6 from the decay/first tensor (ggml (1, S, H) or (1, 1, H)), v7 from r_k (S, H).
  if (info.version_major == 5 || info.version_major == 6) {
    const Tensor& d = w.get(info.version_major == 6 ? "blocks.0.att.time_faaaa" : "blocks.0.att.time_decay");
    info.n_head = int(d.ne[2]);
  } else if (info.version_major == 7) {
    info.n_head = int(w.get("blocks.0.att.r_k").ne[1]);
  }
  if (info.version_major >= 5) {
    if (info.n_head <= 0 || C % info.n_head != 0)
      throw Error(ErrorCode::Shape, label + ": head count " + std::to_string(info.n_head) + " does not divide n_embed " + std::to_string(C));
    info.head_size = int(C / info.n_head);
    if (info.head_size > 256)  // the WKV kernels keep a head's vectors on the stack
      throw Error(ErrorCode::Shape, label + ": head size " + std::to_string(info.head_size) + " is larger than 256");
  }
  info.ffn_size = int(w.get("blocks.0.ffn.key.weight").rows());
  info.group_norm_eps = info.version_major == 5 ? 1e-5f : 64e-5f;
  if (w.get("emb.weight").rows() != info.n_vocab)
    throw Error(ErrorCode::Shape, label + ": emb.weight has " + std::to_string(w.get("emb.weight").rows()) +
                                      " rows but the header says n_vocab " + std::to_string(info.n_vocab));

  std::unique_ptr<Architecture> arch;
  switch (info.version_major) {
    case 4: arch = make_v4(info, w); break;
    case 5: arch = make_v5(info, w); break;
    case 6: arch = make_v6(info, w); break;
    default: arch = make_v7(info, w); break;
  }
  arch->read_embeddings_from(index.file);
  return arch;
}

}  // namespace rwkv
