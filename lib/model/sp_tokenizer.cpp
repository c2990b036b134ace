// sentencepiece `tokenizer.model` files through the sentencepiece library. Control pieces (<s>,
// </s>), <unk> and tokenizer_config.json's added_tokens_decoder are added tokens split out first
// (specials only with parse_special); each stretch between them is encoded by sentencepiece, so it
// gets its own dummy prefix, as HF's legacy Llama tokenizer does. Decoding undoes that per stretch.
// Tested by tests/model/test_tokenizer.cpp against the sentencepiece Python package.
#include <sentencepiece_processor.h>

#include "core/error.h"
#include "model/tokenizer_impl.h"

namespace slmify::tok {
namespace {

namespace fs = std::filesystem;

class SpTokenizer final : public Tokenizer {
 public:
  SpTokenizer(const fs::path& path, const TokenizerConfig& config);

  TokenIds encode(std::string_view text, bool parse_special) const override {
    utf8_check(text, "tokenizer input");
    std::vector<TextPiece> pieces;
    added_.split(text, false, parse_special, pieces);
    TokenIds ids;
    std::vector<int> part;
    for (const TextPiece& p : pieces) {
      if (p.id >= 0) {
        ids.push_back(p.id);
        continue;
      }
      part.clear();
      auto st = sp_.Encode(absl::string_view(p.text.data(), p.text.size()), &part);
      if (!st.ok()) throw_bad_data("tokenizer input", "sentencepiece could not encode it: " + st.ToString());
      ids.insert(ids.end(), part.begin(), part.end());
    }
    return ids;
  }

  std::string decode(std::span<const int32_t> ids, bool skip_special) const override {
    std::string out, text;
    std::vector<int> run;
    auto flush = [&] {
      if (run.empty()) return;
      auto st = sp_.Decode(run, &text);
      if (!st.ok()) throw_bad_data("token ids", "sentencepiece could not decode them: " + st.ToString());
      out += text;
      run.clear();
    };
    for (int32_t id : ids) {
      if (id < 0 || id >= size_)
        throw_bad_data("token id " + std::to_string(id), "out of range for this tokenizer (vocab size " +
                                                              std::to_string(size_) + ")");
      if (const AddedToken* a = added_.by_id(id)) {
        flush();
        if (!(skip_special && a->special)) out += a->content;
      } else {
        run.push_back(id);
      }
    }
    flush();
    return out;
  }

  int32_t vocab_size() const override { return size_; }
  std::optional<int32_t> token_id(std::string_view token) const override {
    if (auto id = added_.id_of(token)) return id;
    int id = sp_.PieceToId(absl::string_view(token.data(), token.size()));
    if (id >= 0 && id < pieces_ && sp_.IdToPiece(id) == token) return id;
    return std::nullopt;
  }
  std::string token_text(int32_t id) const override {
    if (const AddedToken* a = added_.by_id(id)) return a->content;
    return id >= 0 && id < pieces_ ? sp_.IdToPiece(id) : std::string();
  }
  bool is_special(int32_t id) const override {
    const AddedToken* a = added_.by_id(id);
    return a && a->special;
  }
  std::string kind() const override { return "sentencepiece"; }

 private:
  sentencepiece::SentencePieceProcessor sp_;
  AddedTokens added_;
  int32_t pieces_ = 0;  // ids below this are sentencepiece's
  int32_t size_ = 0;
};

SpTokenizer::SpTokenizer(const fs::path& path, const TokenizerConfig& config) {
  auto st = sp_.Load(path.string());
  if (!st.ok())
    throw_bad_data(path.string(), "not a sentencepiece model: " + st.ToString(),
                   "the file is damaged or of another kind; copy tokenizer.model again from the base model");
  pieces_ = sp_.GetPieceSize();
  size_ = pieces_;
  for (const AddedToken& a : config.added_tokens) {
    AddedToken t = a;
    t.normalized = false;  // sentencepiece normalises inside; match the raw text
    size_ = std::max(size_, t.id + 1);
    added_.add(std::move(t));
  }
  for (int32_t id = 0; id < pieces_; ++id) {
    if ((sp_.IsControl(id) || sp_.IsUnknown(id)) && !added_.by_id(id) && !sp_.IdToPiece(id).empty()) {
      AddedToken t;
      t.id = id;
      t.content = sp_.IdToPiece(id);
      t.special = true;
      added_.add(std::move(t));
    }
  }
  auto id_or_none = [](int id) { return id >= 0 ? std::optional<int32_t>(id) : std::nullopt; };
  specials_.bos = id_or_none(sp_.bos_id());
  specials_.eos = id_or_none(sp_.eos_id());
  specials_.pad = id_or_none(sp_.pad_id());
  specials_.unk = id_or_none(sp_.unk_id());
  resolve_specials(*this, config, specials_);
  specials_.add_bos = config.add_bos.value_or(specials_.bos.has_value());
  specials_.add_eos = config.add_eos.value_or(false);
}

}  // namespace

std::unique_ptr<Tokenizer> sp_tokenizer_load(const fs::path& tokenizer_model, const TokenizerConfig& config) {
  return std::make_unique<SpTokenizer>(tokenizer_model, config);
}

}  // namespace slmify::tok
