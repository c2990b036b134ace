// Private to lib/model's tokenizers: the added-token splitter both kinds share, UTF-8 helpers,
// tokenizer_config.json, and the three loaders tokenizer_load() dispatches to. No sentencepiece,
// PCRE2 or utf8proc types appear here. Tested by tests/model/test_tokenizer.cpp.
#pragma once

#include <array>
#include <functional>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/tokenizer.h"

namespace slmify::tok {

using json = nlohmann::json;

/// One entry of tokenizer.json's `added_tokens` (or tokenizer_config.json's added_tokens_decoder).
struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;      ///< split out only with parse_special; skipped by decode(skip_special)
  bool lstrip = false;       ///< swallows the whitespace before it
  bool rstrip = false;       ///< swallows the whitespace after it
  bool single_word = false;  ///< matches only between non-word characters
  bool normalized = false;   ///< matched in the normalized text rather than the raw text
};

/// A stretch of input: plain text to tokenize (id < 0) or one added token (id >= 0).
struct TextPiece {
  std::string_view text;
  int32_t id = -1;
};

/// Finds added tokens in text the way HF's AddedVocabulary does: leftmost-longest, non-overlapping
/// matches, then the single_word/lstrip/rstrip rules; special tokens count only with parse_special.
class AddedTokens {
 public:
  void add(AddedToken token);
  /// Splits `text` at the added tokens whose `normalized` flag equals `normalized`; appends to out.
  void split(std::string_view text, bool normalized, bool parse_special, std::vector<TextPiece>& out) const;
  const AddedToken* by_id(int32_t id) const;
  std::optional<int32_t> id_of(std::string_view content) const;
  const std::vector<AddedToken>& all() const { return tokens_; }

 private:
  std::vector<AddedToken> tokens_;
  std::unordered_map<int32_t, size_t> by_id_;
  std::unordered_map<std::string, size_t> by_content_;
  std::array<std::vector<size_t>, 256> by_first_byte_;  // indices, longest content first
  int count_[2] = {0, 0};
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
/// Token text -> id, looked up by string_view without a copy.
using VocabMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

/// What the tokenizer.json tokenizers (byte-level BPE, WordPiece) share: the vocabulary, the
/// token texts by id and the added tokens, and the Tokenizer lookups over them.
class VocabTokenizer : public Tokenizer {
 public:
  int32_t vocab_size() const override { return size_; }
  std::optional<int32_t> token_id(std::string_view token) const override;
  std::string token_text(int32_t id) const override;
  bool is_special(int32_t id) const override;

 protected:
  /// bad_data Error for an id outside [0, vocab_size()).
  void check_id(int32_t id) const;
  /// Reads tokenizer.json's `added_tokens` (`where` names the file) and grows size_ to cover them.
  void load_added_tokens(const json& j, const std::string& where);
  /// Reads a TemplateProcessing post-processor's `single` template: one special token before the
  /// text sets BOS and add_bos, one after sets EOS and add_eos; more is a usage Error.
  void load_template_processing(const json& j, const std::string& where);
  AddedTokens added_;
  VocabMap vocab_;                   // token text -> id
  std::vector<std::string> tokens_;  // id -> token text
  int32_t size_ = 0;
};

/// Decodes the code point at s[i] and advances i (input must be valid UTF-8).
char32_t utf8_next(std::string_view s, size_t& i);
void utf8_append(std::string& out, char32_t c);
/// Throws a bad-data Error naming `what` and the byte offset when `s` is not valid UTF-8.
void utf8_check(std::string_view s, const char* what);
bool is_unicode_whitespace(char32_t c);  ///< the Unicode White_Space property (Rust char::is_whitespace)
bool is_word_char(char32_t c);           ///< letter, number or '_' (single_word boundaries)

/// Reads and parses a JSON file; a missing file is an I/O error, broken JSON a bad-data error.
json read_json_file(const std::filesystem::path& path);

/// What tokenizer_config.json says; fields are empty when absent.
struct TokenizerConfig {
  std::filesystem::path path;  ///< the file, for messages ("" when there is none)
  std::optional<std::string> bos, eos, pad, unk;
  std::optional<bool> add_bos, add_eos;
  std::string chat_template;
  std::vector<AddedToken> added_tokens;  ///< from added_tokens_decoder
};
TokenizerConfig read_tokenizer_config(const std::filesystem::path& model_dir);

/// Fills specials.bos/eos/pad/unk from the config's token names through `tok`, keeping the values
/// already there when the config names none; a name the tokenizer lacks is a bad-data Error.
void resolve_specials(const Tokenizer& tok, const TokenizerConfig& config, TokenizerSpecials& specials);

/// Loaders behind tokenizer_load(). The BPE one throws a usage Error for tokenizer.json files it
/// does not support (tokenizer_load then falls back to tokenizer.model when there is one).
std::unique_ptr<Tokenizer> bpe_tokenizer_load(const std::filesystem::path& tokenizer_json,
                                              const TokenizerConfig& config);
std::unique_ptr<Tokenizer> sp_tokenizer_load(const std::filesystem::path& tokenizer_model,
                                             const TokenizerConfig& config);
/// The tokenizer.json equivalent of a serialized sentencepiece model (what transformers' LlamaConverter
/// makes of it; sp_train.cpp). A model sentencepiece refuses is a usage Error naming its complaint.
json sp_tokenizer_json(const std::string& model_proto);
/// A tokenizer.json whose model is WordPiece (BERT normalizer and pre-tokenizer), already parsed.
std::unique_ptr<Tokenizer> wordpiece_tokenizer_load(const std::filesystem::path& tokenizer_json, const json& j,
                                                    const TokenizerConfig& config);

}  // namespace slmify::tok
