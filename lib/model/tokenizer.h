// Tokenizers of Hugging Face model directories, without torch: sentencepiece `tokenizer.model`
// files (through the sentencepiece library), `tokenizer.json` byte-level BPE (GPT-2, Llama-3,
// Qwen2, SmolLM2 families; pre-tokenisation regexes through PCRE2) and WordPiece (BERT encoders). tokenizer_config.json supplies
// BOS/EOS, add_bos_token and the chat template source.
// Tested by tests/model/test_tokenizer.cpp and test_wordpiece.cpp against HF tokenizers and sentencepiece.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace slmify {

using TokenIds = std::vector<int32_t>;

/// What tokenizer_config.json (and tokenizer.json's post-processor, or the sentencepiece model)
/// say about special tokens. Explicit add_bos_token/add_eos_token override the post-processor, as
/// in transformers 5; the chat template may also come from chat_template.jinja.
struct TokenizerSpecials {
  std::optional<int32_t> bos;      ///< id of bos_token, if the tokenizer has one
  std::optional<int32_t> eos;      ///< id of eos_token
  std::optional<int32_t> pad;      ///< id of pad_token
  std::optional<int32_t> unk;      ///< id of unk_token
  bool add_bos = false;            ///< a plain encode for the model starts with BOS (add_bos_token / post-processor)
  bool add_eos = false;            ///< a plain encode ends with EOS (add_eos_token)
  std::string chat_template;       ///< Jinja source of the default chat template ("" when none)
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  /// Token ids of `text`, without BOS/EOS. With parse_special, special tokens written literally in
  /// the text (e.g. "<|im_start|>") become their ids; without it (the default, and always for user
  /// text) they are encoded as ordinary text. Non-special added tokens (special:false in
  /// tokenizer.json, e.g. Qwen2.5's "<tool_call>") are vocabulary and always split out, as in HF.
  /// Input must be valid UTF-8 (else a bad_data Error). Thread-safe.
  virtual TokenIds encode(std::string_view text, bool parse_special = false) const = 0;
  /// The bytes of `ids` joined (BPE: may end inside a UTF-8 sequence when cut mid-character;
  /// sentencepiece replaces an incomplete byte sequence with U+FFFD); skip_special drops special
  /// tokens. An id outside [0, vocab_size()) is a bad_data Error.
  virtual std::string decode(std::span<const int32_t> ids, bool skip_special = false) const = 0;
  /// Number of ids (vocabulary plus added tokens): every id is below this.
  virtual int32_t vocab_size() const = 0;
  /// The id of a token given by its exact text in the vocabulary or among the added tokens.
  virtual std::optional<int32_t> token_id(std::string_view token) const = 0;
  /// The vocabulary entry of `id` as stored (e.g. "Ġthe", "▁the", "<|im_end|>").
  virtual std::string token_text(int32_t id) const = 0;
  /// True for special/control tokens (added tokens with special:true, sentencepiece control ids).
  virtual bool is_special(int32_t id) const = 0;
  /// "sentencepiece", "bpe" or "wordpiece".
  virtual std::string kind() const = 0;

  const TokenizerSpecials& specials() const { return specials_; }
  /// encode() plus BOS/EOS as specials() says: what the model sees for a raw prompt.
  TokenIds encode_for_model(std::string_view text, bool parse_special = false) const;

 protected:
  TokenizerSpecials specials_;
};

/// Loads the tokenizer of an HF model directory: tokenizer.json when it is byte-level BPE or
/// WordPiece (BERT encoders: [CLS] and [SEP] are its BOS and EOS), else tokenizer.model (so Llama-2/Mistral/Gemma directories, whose tokenizer.json is sentencepiece-style,
/// use the .model); plus tokenizer_config.json. Errors (io/usage/bad_data) name the file and field.
std::unique_ptr<Tokenizer> tokenizer_load(const std::filesystem::path& model_dir);

/// Trains a sentencepiece BPE model on `texts` (one sentence each; vocab_size >= 300; same texts and
/// seed, same model) and writes tokenizer.model, an equivalent tokenizer.json, tokenizer_config.json
/// and special_tokens_map.json into `dir` the way a Llama checkpoint has them (<unk>=0, <s>=1,
/// </s>=2, add_bos_token true); transformers' AutoTokenizer loads it without protobuf and encodes
/// alike. Used by `slmify model init`.
/// `special_tokens` (e.g. "<|im_start|>") become control symbols: ids of their own, special in
/// tokenizer.json, parsed only with parse_special, never produced from ordinary text.
void tokenizer_train_sentencepiece(const std::vector<std::string>& texts, int vocab_size,
                                   const std::filesystem::path& dir, uint64_t seed = 0,
                                   const std::vector<std::string>& special_tokens = {});

}  // namespace slmify
