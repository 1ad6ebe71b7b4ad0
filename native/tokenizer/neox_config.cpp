#include "tokenizer/neox_config.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/byte_level_alphabet.h"

namespace rwkv {
namespace {

using json = nlohmann::json;

class ConfigReader {
 public:
  explicit ConfigReader(const std::string& file_name) : file_name_(file_name) {}

  Error error(const std::string& what) const { return Error(ErrorCode::Format, "tokenizer '" + file_name_ + "': " + what); }

  // A byte-level spelled string (vocab key or merge part) as raw bytes.
  std::string raw_bytes(const std::string& spelled) const {
    auto bytes = byte_level::bytes_of(spelled);
    if (!bytes) throw error("'" + spelled + "' has a character outside the byte-level alphabet");
    return std::move(*bytes);
  }

  // Accepts only what 20B_tokenizer.json uses; anything else would silently tokenize differently.
  void check_pipeline(const json& root, NeoxConfig& config) const {
    const json& normalizer = root.at("normalizer");
    if (!normalizer.is_null()) {
      if (normalizer.at("type") != "NFC") throw error("normalizer " + normalizer.at("type").dump() + " is not supported (only NFC)");
      config.nfc = true;
    }
    const json& pre = root.at("pre_tokenizer");
    if (pre.is_null() || pre.at("type") != "ByteLevel") throw error("only the ByteLevel pre-tokenizer is supported");
    if (pre.value("add_prefix_space", false)) throw error("ByteLevel add_prefix_space=true is not supported");
    if (!pre.value("use_regex", true)) throw error("ByteLevel use_regex=false is not supported");
    const json& decoder = root.at("decoder");
    if (!decoder.is_null() && decoder.at("type") != "ByteLevel") throw error("only the ByteLevel decoder is supported");
    const json& model = root.at("model");
    if (model.value("type", "BPE") != "BPE") throw error("model type " + model.at("type").dump() + " is not BPE");
    if (!model.value("dropout", json()).is_null()) throw error("BPE dropout is not supported");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      const json v = model.value(key, json());
      if (!v.is_null() && v != "") throw error(std::string("BPE ") + key + " is not supported");
    }
  }

  void read_model(const json& model, NeoxConfig& config) const {
    for (const auto& [spelled, id] : model.at("vocab").items()) config.vocab.emplace(raw_bytes(spelled), id.get<uint32_t>());
    for (const json& merge : model.at("merges")) {
      std::string left, right;
      if (merge.is_string()) {  // older files: "left right"
        const std::string text = merge.get<std::string>();
        const size_t space = text.find(' ');
        if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos)
          throw error("merge '" + text + "' is not two parts separated by one space");
        left = text.substr(0, space), right = text.substr(space + 1);
      } else {  // newer files: ["left", "right"]
        if (!merge.is_array() || merge.size() != 2) throw error("merge " + merge.dump() + " is not a pair");
        left = merge[0].get<std::string>(), right = merge[1].get<std::string>();
      }
      config.merges.push_back({raw_bytes(left), raw_bytes(right)});
    }
  }

  void read_added_tokens(const json& added, NeoxConfig& config) const {
    for (const json& token : added) {
      for (const char* flag : {"lstrip", "rstrip", "single_word"})
        if (token.value(flag, false)) throw error(std::string("added token flag ") + flag + " is not supported");
      config.added_tokens.push_back({token.at("content").get<std::string>(), token.at("id").get<uint32_t>(),
                                     token.value("special", false), token.value("normalized", false)});
    }
  }

 private:
  const std::string& file_name_;
};

}  // namespace

NeoxConfig parse_neox_config(std::string_view json_text, const std::string& file_name) {
  const ConfigReader reader(file_name);
  NeoxConfig config;
  try {
    const json root = json::parse(json_text);
    reader.check_pipeline(root, config);
    reader.read_model(root.at("model"), config);
    reader.read_added_tokens(root.value("added_tokens", json::array()), config);
  } catch (const json::exception& e) {
    throw reader.error(std::string("invalid tokenizer JSON: ") + e.what());
  }
  if (config.vocab.empty()) throw reader.error("the BPE vocabulary is empty");
  return config;
}

}  // namespace rwkv
