// gguf_write_tokenizer(): the tokenizer.* metadata of a GGUF file as Hugging Face tokenizer files.
// gpt2-type vocabularies become a byte-level BPE tokenizer.json whose pre-tokenizer is the one
// `tokenizer.ggml.pre` names (the regexes of the original tokenizers); llama-type sentencepiece
// vocabularies (tokens, scores, types) become a tokenizer.model plus its tokenizer.json. Control
// tokens are special added tokens, user-defined ones plain added tokens, as transformers' GGUF loader does.
// Tested by tests/model/test_gguf.cpp (ids equal to transformers' AutoTokenizer on the GGUF).
#include <cstring>

#include "core/error.h"
#include "core/fsutil.h"
#include "model/gguf.h"
#include "model/bpe_tokenizer.h"
#include "model/tokenizer_impl.h"

namespace slmify {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr int kControl = 3, kUserDefined = 4;  // llama.cpp's token types (1 normal, 2 unknown, 5 unused, 6 byte)

const char* const kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* const kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct PreTokenizer {
  json pre_tokenizer;
  json normalizer;             // null, or NFC for Qwen2
  bool ignore_merges = false;  // Llama 3 takes whole words found in the vocabulary
};

json split_then_bytes(const char* regex) {
  return {{"type", "Sequence"},
          {"pretokenizers", {{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}},
                             {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}}}};
}

// What the original tokenizer.json of each `tokenizer.ggml.pre` family does before BPE.
PreTokenizer pre_tokenizer_for(const std::string& pre, const fs::path& path) {
  json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  if (pre.empty() || pre == "default" || pre == "gpt-2" || pre == "gpt2") return {byte_level, nullptr, false};
  if (pre == "smollm")  // SmolLM/SmolLM2: digits one by one, then GPT-2's split
    return {{{"type", "Sequence"}, {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byte_level}}}, nullptr, false};
  if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3" || pre == "smaug-bpe" || pre == "falcon3" || pre == "dbrx")
    return {split_then_bytes(kLlama3Regex), nullptr, true};
  if (pre == "qwen2" || pre == "deepseek-r1-qwen") return {split_then_bytes(kQwen2Regex), {{"type", "NFC"}}, false};
  throw_usage(path.string(), "tokenizer.ggml.pre \"" + pre + "\" is not supported",
              "slmify imports the pre-tokenizers default/gpt-2, smollm, llama-bpe (Llama 3) and qwen2");
}

// The array `key`, checked to hold elements of type `elem` (any integer type for int32).
const GgufValue* array_of(const GgufFile& f, const std::string& key, GgufValueType elem, bool required) {
  const GgufValue* v = f.find(key);
  if (!v) {
    if (required) throw_usage(f.path().string(), "metadata " + key + " is missing", "the file carries no usable tokenizer");
    return nullptr;
  }
  GgufValue element;
  element.type = v->elem_type;
  const bool integer_ok = elem == GgufValueType::int32 && v->type == GgufValueType::array && element.is_integer();
  if (v->type != GgufValueType::array || (v->elem_type != elem && !integer_ok))
    throw_usage(f.path().string(), "metadata " + key + " must be an array of " + gguf_value_type_name(elem));
  return v;
}

std::optional<int64_t> token_id(const GgufFile& f, const std::string& key, size_t n_tokens) {
  const GgufValue* v = f.find(key);
  if (!v) return std::nullopt;
  if (!v->is_integer() || v->i < 0 || static_cast<size_t>(v->i) >= n_tokens)
    throw_usage(f.path().string(), "metadata " + key + " = " + v->to_json().dump() + " is not a token id");
  return v->i;
}

bool flag(const GgufFile& f, const std::string& key, bool fallback) {
  const GgufValue* v = f.find(key);
  return v && v->type == GgufValueType::boolean ? v->i != 0 : fallback;
}

json added_token(int64_t id, const std::string& content, bool special) {
  return {{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", special}};
}

// A token spelt entirely in the 256 characters of the byte-level alphabet.
bool byte_level_spelling(const std::string& t) {
  size_t i = 0;
  while (i < t.size())
    if (tok::unicode_to_byte(tok::utf8_next(t, i)) < 0) return false;
  return true;
}

json gpt2_tokenizer_json(const GgufFile& f, const std::vector<std::string>& tokens, const std::vector<int64_t>& types,
                         std::optional<int64_t> bos, bool add_bos) {
  const auto& merges_v = array_of(f, "tokenizer.ggml.merges", GgufValueType::string, true)->items;
  const GgufValue* pre_v = f.find("tokenizer.ggml.pre");
  PreTokenizer pre = pre_tokenizer_for(pre_v && pre_v->type == GgufValueType::string ? pre_v->s : "", f.path());
  json vocab = json::object(), added = json::array(), merges = json::array();
  for (size_t id = 0; id < tokens.size(); ++id) {
    if (!vocab.contains(tokens[id])) vocab[tokens[id]] = id;
    int type = id < types.size() ? static_cast<int>(types[id]) : 1;
    // A control token outside the byte alphabet is a mislabel in llama.cpp's converter: left as
    // vocabulary (transformers skips it too).
    if ((type == kControl && byte_level_spelling(tokens[id])) || type == kUserDefined)
      added.push_back(added_token(static_cast<int64_t>(id), tokens[id], type == kControl));
  }
  for (const GgufValue& m : merges_v) {
    size_t sp = m.s.find(' ');
    if (sp == std::string::npos || m.s.find(' ', sp + 1) != std::string::npos)
      throw_usage(f.path().string(), "tokenizer.ggml.merges entry " + json(m.s).dump() + " is not \"left right\"");
    merges.push_back({m.s.substr(0, sp), m.s.substr(sp + 1)});
  }
  json post = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
  if (add_bos && bos) {
    const std::string& b = tokens[static_cast<size_t>(*bos)];
    json item = {{"SpecialToken", {{"id", b}, {"type_id", 0}}}};
    post = {{"type", "TemplateProcessing"},
            {"single", {item, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
            {"pair", {item, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}, item, {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
            {"special_tokens", {{b, {{"id", b}, {"ids", {*bos}}, {"tokens", {b}}}}}}};
  }
  return {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", added},
          {"normalizer", pre.normalizer}, {"pre_tokenizer", pre.pre_tokenizer}, {"post_processor", post},
          {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
          {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
                     {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
                     {"ignore_merges", pre.ignore_merges}, {"vocab", vocab}, {"merges", merges}}}};
}

// ---- sentencepiece: a ModelProto in protobuf wire format (only the fields a Llama model sets) ----

void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}
void field_varint(std::string& out, int field, int64_t v) {
  varint(out, static_cast<uint64_t>(field) << 3);
  varint(out, static_cast<uint64_t>(v));  // negative int32: ten bytes of two's complement, as protobuf
}
void field_bytes(std::string& out, int field, const std::string& b) {
  varint(out, (static_cast<uint64_t>(field) << 3) | 2);
  varint(out, b.size());
  out += b;
}
void field_float(std::string& out, int field, float f) {
  varint(out, (static_cast<uint64_t>(field) << 3) | 5);
  char raw[4];
  std::memcpy(raw, &f, 4);
  out.append(raw, 4);
}

// Llama-2-style BPE over the vocabulary (llama.cpp's SPM merges by score, as sentencepiece BPE does),
// identity normalisation, dummy prefix as tokenizer.ggml.add_space_prefix says, byte fallback when
// the vocabulary has byte tokens.
std::string sentencepiece_proto(const GgufFile& f, const std::vector<std::string>& tokens, const std::vector<int64_t>& types,
                                const GgufTokenizerIds& ids, std::optional<int64_t> unk, bool dummy_prefix) {
  const GgufValue& scores = *array_of(f, "tokenizer.ggml.scores", GgufValueType::float32, true);
  if (scores.count() != tokens.size() || (!types.empty() && types.size() != tokens.size()))
    throw_usage(f.path().string(), "tokenizer.ggml.scores/token_type do not have one entry per token");
  std::string model, trainer, normalizer;
  bool bytes = false;
  for (size_t id = 0; id < tokens.size(); ++id) {
    int64_t type = types.empty() ? 1 : types[id];
    if (type < 1 || type > 6) type = 1;
    bytes = bytes || type == 6;
    std::string piece;
    field_bytes(piece, 1, tokens[id]);
    field_float(piece, 2, static_cast<float>(scores.at(id).f));
    if (type != 1) field_varint(piece, 3, type);  // the enum numbers equal llama.cpp's token types
    field_bytes(model, 1, piece);
  }
  field_varint(trainer, 3, 2);  // model_type BPE
  field_varint(trainer, 4, static_cast<int64_t>(tokens.size()));
  if (bytes) field_varint(trainer, 35, 1);
  field_varint(trainer, 40, unk.value_or(-1));
  field_varint(trainer, 41, ids.bos.value_or(-1));
  field_varint(trainer, 42, ids.eos.value_or(-1));
  bool pad_distinct = ids.pad && ids.pad != unk && ids.pad != ids.bos && ids.pad != ids.eos;
  field_varint(trainer, 43, pad_distinct ? *ids.pad : -1);
  field_bytes(normalizer, 1, "identity");
  field_varint(normalizer, 3, dummy_prefix ? 1 : 0);
  field_varint(normalizer, 4, 0);  // keep whitespace runs
  field_varint(normalizer, 5, 1);  // spaces as U+2581
  field_bytes(model, 2, trainer);
  field_bytes(model, 3, normalizer);
  return model;
}

void write_sentencepiece(const GgufFile& f, const std::vector<std::string>& tokens, const std::vector<int64_t>& types,
                         const GgufTokenizerIds& ids, std::optional<int64_t> unk, bool add_bos, const fs::path& dir) {
  const bool dummy_prefix = flag(f, "tokenizer.ggml.add_space_prefix", true);
  std::string proto = sentencepiece_proto(f, tokens, types, ids, unk, dummy_prefix);
  json j = tok::sp_tokenizer_json(proto);
  if (!dummy_prefix) j["normalizer"] = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}};
  if (!add_bos) j["post_processor"] = nullptr;
  write_file_atomic(dir / "tokenizer.model", proto);
  write_file_atomic(dir / "tokenizer.json", j.dump() + "\n");
}

}  // namespace

GgufTokenizerIds gguf_write_tokenizer(const GgufFile& f, const fs::path& dir) {
  const GgufValue* model = f.find("tokenizer.ggml.model");
  if (!model || model->type != GgufValueType::string)
    throw_usage(f.path().string(), "metadata tokenizer.ggml.model is missing", "the file carries no tokenizer to import");
  std::vector<std::string> tokens;
  for (const GgufValue& t : array_of(f, "tokenizer.ggml.tokens", GgufValueType::string, true)->items) {
    tok::utf8_check(t.s, "tokenizer.ggml.tokens");
    tokens.push_back(t.s);
  }
  if (tokens.empty()) throw_usage(f.path().string(), "tokenizer.ggml.tokens is empty");
  std::vector<int64_t> types;
  if (const GgufValue* tt = array_of(f, "tokenizer.ggml.token_type", GgufValueType::int32, false))
    for (size_t k = 0; k < tt->count(); ++k) types.push_back(tt->at(k).i);

  GgufTokenizerIds ids;
  ids.vocab_size = static_cast<int64_t>(tokens.size());
  ids.bos = token_id(f, "tokenizer.ggml.bos_token_id", tokens.size());
  ids.eos = token_id(f, "tokenizer.ggml.eos_token_id", tokens.size());
  ids.pad = token_id(f, "tokenizer.ggml.padding_token_id", tokens.size());
  std::optional<int64_t> unk = token_id(f, "tokenizer.ggml.unknown_token_id", tokens.size());
  const bool sentencepiece = model->s == "llama";
  const bool add_bos = flag(f, "tokenizer.ggml.add_bos_token", sentencepiece);
  const bool add_eos = flag(f, "tokenizer.ggml.add_eos_token", false);

  if (model->s == "gpt2") {
    const GgufValue* pre = f.find("tokenizer.ggml.pre");
    ids.kind = "gpt2 (pre-tokenizer " + (pre && !pre->s.empty() ? pre->s : std::string("default")) + ")";
    write_file_atomic(dir / "tokenizer.json", gpt2_tokenizer_json(f, tokens, types, ids.bos, add_bos).dump() + "\n");
  } else if (sentencepiece) {
    ids.kind = "llama (sentencepiece)";
    write_sentencepiece(f, tokens, types, ids, unk, add_bos, dir);
  } else {
    throw_usage(f.path().string(), "tokenizer.ggml.model \"" + model->s + "\" is not supported",
                "slmify imports gpt2 (byte-level BPE) and llama (sentencepiece) vocabularies");
  }

  auto name = [&](std::optional<int64_t> id) { return id ? json(tokens[static_cast<size_t>(*id)]) : json(nullptr); };
  json config = {{"tokenizer_class", "PreTrainedTokenizerFast"},
                 {"bos_token", name(ids.bos)}, {"eos_token", name(ids.eos)}, {"pad_token", name(ids.pad)},
                 {"unk_token", name(unk)}, {"add_bos_token", add_bos}, {"add_eos_token", add_eos},
                 {"clean_up_tokenization_spaces", false}};
  if (const GgufValue* arch = f.find("general.architecture"); arch && arch->type == GgufValueType::string)
    if (const GgufValue* ctx = f.find(arch->s + ".context_length"); ctx && ctx->is_integer()) config["model_max_length"] = ctx->i;
  if (const GgufValue* t = f.find("tokenizer.chat_template"); t && t->type == GgufValueType::string) {
    tok::utf8_check(t->s, "tokenizer.chat_template");
    config["chat_template"] = t->s;
  }
  write_file_atomic(dir / "tokenizer_config.json", config.dump(2) + "\n");
  json special = json::object();
  for (auto [key, id] : {std::pair{"bos_token", ids.bos}, {"eos_token", ids.eos}, {"pad_token", ids.pad}, {"unk_token", unk}})
    if (id) special[key] = tokens[static_cast<size_t>(*id)];
  write_file_atomic(dir / "special_tokens_map.json", special.dump(2) + "\n");
  return ids;
}

}  // namespace slmify
