// Sentence embeddings from a BERT encoder directory in sentence-transformers' layout (e.g.
// all-MiniLM-L6-v2): WordPiece tokens → BertModel → mean over the real tokens → L2 norm, as
// modules.json's Transformer → Pooling(mean) → Normalize. No torch in this header: the cluster
// stage passes texts in and gets normalised vectors out (cosine similarity = dot product).
// Tested by tests/model/test_encoder.cpp against transformers' AutoModel on the same files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/tokenizer.h"

namespace slmify {

struct EncoderOptions {
  std::string device = "auto";  ///< auto (CUDA when present, else CPU), cpu, cuda
  std::string dtype = "auto";   ///< auto (= fp32: the same vectors on every machine), fp32, bf16 (faster with AMX)
  int threads = 0;              ///< CPU intra-op threads; 0 = one per core
};

struct EncoderWeights;  // lib/model/encoder.cpp

/// A loaded encoder: config, WordPiece tokenizer, weights on their device. Not copyable.
class Encoder {
 public:
  Encoder();
  ~Encoder();
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  const Tokenizer& tokenizer() const { return *tokenizer_; }
  int dim() const;                  ///< embedding width (hidden_size, 384 for MiniLM-L6)
  int64_t max_tokens() const;       ///< default truncation: max_seq_length of sentence_bert_config.json
  std::string device() const;       ///< "cpu" or "cuda"
  std::string dtype() const;        ///< "fp32" or "bf16"
  const std::filesystem::path& dir() const { return dir_; }
  EncoderWeights& weights() { return *weights_; }

 private:
  friend std::unique_ptr<Encoder> encoder_load(const std::filesystem::path&, const EncoderOptions&);
  std::filesystem::path dir_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<EncoderWeights> weights_;
};

/// Loads a BERT encoder directory (config.json with model_type bert, model.safetensors with or
/// without a "bert." prefix, WordPiece tokenizer.json; 1_Pooling/config.json must ask for mean
/// pooling when present). Errors name the file and the tensor.
std::unique_ptr<Encoder> encoder_load(const std::filesystem::path& dir, const EncoderOptions& opts = {});

/// The ids the model sees for `text`: [CLS] tokens… [SEP], cut to max_tokens in all (0 = the
/// encoder's max_tokens()). Literal "[CLS]"/"[SEP]" in the text stay text.
TokenIds encoder_tokenize(const Encoder& e, std::string_view text, int64_t max_tokens = 0);

/// Embeddings of `texts`, row-major [texts.size(), dim], each row L2-normalised (an all-zero
/// row never occurs: [CLS] and [SEP] are always there). Texts are sorted by length and run in
/// padded batches of batch_size; the output keeps the input order. max_tokens as in encoder_tokenize.
std::vector<float> encoder_embed(Encoder& e, const std::vector<std::string>& texts, int batch_size = 32,
                                 int64_t max_tokens = 0);

inline int encoder_dim(const Encoder& e) { return e.dim(); }

}  // namespace slmify
