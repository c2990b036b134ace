// tokenizer_train_sentencepiece(): trains a sentencepiece BPE model in-process (Llama-2's setup:
// identity normalisation, dummy prefix, digits split, byte fallback; one thread, no sampling, so
// the same texts give the same model) and writes tokenizer.model, an equivalent tokenizer.json
// (what transformers 5 loads without protobuf), tokenizer_config.json and special_tokens_map.json.
// Tested by tests/model/test_tokenizer.cpp, which loads the directory with transformers.
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>

#include "core/error.h"
#include "core/fsutil.h"
#include "model/tokenizer_impl.h"

namespace sentencepiece::logging {
void SetMinLogLevel(int v);  // exported by libsentencepiece, declared only in its private common.h
}

namespace slmify {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

class TextIterator final : public sentencepiece::SentenceIterator {
 public:
  explicit TextIterator(const std::vector<std::string>& texts) : texts_(texts) { skip_empty(); }
  bool done() const override { return i_ >= texts_.size(); }
  void Next() override {
    ++i_;
    skip_empty();
  }
  const std::string& value() const override { return texts_[i_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  void skip_empty() {
    while (i_ < texts_.size() && texts_[i_].empty()) ++i_;
  }
  const std::vector<std::string>& texts_;
  size_t i_ = 0;
};

// The merges an HF BPE model needs to reproduce a sentencepiece BPE model: every split of every
// ordinary piece into two vocabulary pieces, ranked by the piece's score (its id, for BPE models).
json merges_of(const sentencepiece::SentencePieceProcessor& sp) {
  std::unordered_map<std::string, int> vocab;
  for (int id = 0; id < sp.GetPieceSize(); ++id) vocab.emplace(sp.IdToPiece(id), id);
  std::vector<int> order;
  for (int id = 0; id < sp.GetPieceSize(); ++id)
    if (!sp.IsControl(id) && !sp.IsUnknown(id) && !sp.IsByte(id) && !sp.IsUnused(id)) order.push_back(id);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return sp.GetScore(a) > sp.GetScore(b); });
  json merges = json::array();
  for (int id : order) {
    const std::string& piece = sp.IdToPiece(id);
    std::vector<std::pair<int, int>> splits;
    for (size_t k = 1; k < piece.size(); ++k) {
      if ((static_cast<unsigned char>(piece[k]) & 0xC0) == 0x80) continue;  // inside a character
      auto l = vocab.find(piece.substr(0, k)), r = vocab.find(piece.substr(k));
      if (l != vocab.end() && r != vocab.end()) splits.emplace_back(l->second, r->second);
    }
    std::sort(splits.begin(), splits.end());
    for (auto [l, r] : splits) merges.push_back({sp.IdToPiece(l), sp.IdToPiece(r)});
  }
  return merges;
}

json added_token_json(int id, const std::string& content) {
  return {{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", true}};
}

// HF tokenizers' form of the model: what transformers' LlamaConverter makes of it (legacy mode,
// where every stretch between special tokens gets the dummy prefix, as sentencepiece does).
json tokenizer_json_of(const sentencepiece::SentencePieceProcessor& sp) {
  json vocab = json::object(), added = json::array();
  for (int id = 0; id < sp.GetPieceSize(); ++id) {
    vocab[sp.IdToPiece(id)] = id;
    if (sp.IsControl(id) || sp.IsUnknown(id)) added.push_back(added_token_json(id, sp.IdToPiece(id)));
  }
  const std::string bos = sp.IdToPiece(sp.bos_id());
  json bos_item = {{"SpecialToken", {{"id", bos}, {"type_id", 0}}}};
  return {
      {"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", added},
      {"normalizer", {{"type", "Sequence"}, {"normalizers", {{{"type", "Prepend"}, {"prepend", "\u2581"}},
                                                             {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}}}}}},
      {"pre_tokenizer", nullptr},
      {"post_processor", {{"type", "TemplateProcessing"},
                          {"single", {bos_item, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
                          {"pair", {bos_item, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                    {{"SpecialToken", {{"id", bos}, {"type_id", 1}}}}, {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
                          {"special_tokens", {{bos, {{"id", bos}, {"ids", {sp.bos_id()}}, {"tokens", {bos}}}}}}}},
      {"decoder", {{"type", "Sequence"}, {"decoders", {{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
                                                       {{"type", "ByteFallback"}}, {{"type", "Fuse"}},
                                                       {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", sp.IdToPiece(sp.unk_id())},
                 {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr}, {"fuse_unk", true},
                 {"byte_fallback", true}, {"ignore_merges", false}, {"vocab", vocab}, {"merges", merges_of(sp)}}},
  };
}

}  // namespace

json tok::sp_tokenizer_json(const std::string& model_proto) {
  sentencepiece::SentencePieceProcessor sp;
  auto st = sp.LoadFromSerializedProto(model_proto);
  if (!st.ok())
    throw_usage("sentencepiece model", "sentencepiece refuses it: " + st.ToString(),
                "the vocabulary's tokens, types and special ids do not make a valid sentencepiece model");
  return tokenizer_json_of(sp);
}

void tokenizer_train_sentencepiece(const std::vector<std::string>& texts, int vocab_size, const fs::path& dir,
                                   uint64_t seed, const std::vector<std::string>& special_tokens) {
  if (vocab_size < 300)
    throw_usage("vocab_size", "must be at least 300 (got " + std::to_string(vocab_size) + ")",
                "the 256 byte pieces and <unk>, <s>, </s> take 259 ids before any merge");
  if (std::none_of(texts.begin(), texts.end(), [](const std::string& t) { return !t.empty(); }))
    throw_usage("tokenizer training", "no text to train on", "collect some calls first");
  std::string controls;  // control symbols: ids of their own that text never encodes to
  for (const std::string& t : special_tokens) {
    if (t.empty() || t.find(',') != std::string::npos) throw_usage("special token", "\"" + t + "\" must be non-empty and free of commas");
    controls += (controls.empty() ? "" : ",") + t;
  }
  std::unordered_map<std::string, std::string> options = {
      {"model_type", "bpe"}, {"vocab_size", std::to_string(vocab_size)}, {"byte_fallback", "true"},
      {"unk_id", "0"}, {"bos_id", "1"}, {"eos_id", "2"}, {"pad_id", "-1"},
      {"num_threads", "1"}, {"input_sentence_size", "0"}, {"shuffle_input_sentence", "false"},
      {"normalization_rule_name", "identity"}, {"remove_extra_whitespaces", "false"},
      {"add_dummy_prefix", "true"}, {"split_digits", "true"}, {"allow_whitespace_only_pieces", "true"},
      {"character_coverage", "0.9995"}, {"hard_vocab_limit", "false"}, {"max_sentence_length", "1048576"},
  };
  if (!controls.empty()) options["control_symbols"] = controls;
  sentencepiece::logging::SetMinLogLevel(2);  // errors only; the trainer logs every step otherwise
  sentencepiece::SetRandomGeneratorSeed(static_cast<unsigned int>(seed));
  TextIterator it(texts);
  std::string proto;
  auto st = sentencepiece::SentencePieceTrainer::Train(options, &it, &proto);
  if (!st.ok())
    throw_usage("tokenizer training", "sentencepiece failed: " + st.ToString(),
                "give more text, or a smaller vocab_size");
  sentencepiece::SentencePieceProcessor sp;
  st = sp.LoadFromSerializedProto(proto);
  SLMIFY_ASSERT(st.ok(), "sentencepiece cannot load the model it just trained: " + st.ToString());

  fs::create_directories(dir);
  write_file_atomic(dir / "tokenizer.model", proto);
  write_file_atomic(dir / "tokenizer.json", tokenizer_json_of(sp).dump(2));
  json added_decoder = json::object();
  for (int id = 0; id < sp.GetPieceSize(); ++id) {
    if (!sp.IsControl(id) && !sp.IsUnknown(id)) continue;
    json t = added_token_json(id, sp.IdToPiece(id));
    t.erase("id");
    added_decoder[std::to_string(id)] = t;
  }
  json config = {
      // PreTrainedTokenizerFast loads tokenizer.json as written; transformers 5's LlamaTokenizer
      // would rebuild its own pipeline and drop the dummy prefix before a leading space.
      {"tokenizer_class", "PreTrainedTokenizerFast"},
      {"add_bos_token", true}, {"add_eos_token", false},
      {"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}, {"pad_token", nullptr},
      {"clean_up_tokenization_spaces", false}, {"added_tokens_decoder", added_decoder},
  };
  write_file_atomic(dir / "tokenizer_config.json", config.dump(2));
  json special_map = {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}};
  write_file_atomic(dir / "special_tokens_map.json", special_map.dump(2));
}

}  // namespace slmify
