// The `hashing` embedding: TF-IDF over word unigrams, word bigrams and character 3-grams of the
// masked view parts, hashed into 2^hash_bits buckets, sublinear tf, each part L2-normalised and
// weighted, then reduced to `dim` dense dimensions by a randomised SVD (Halko, Martinsson and
// Tropp 2011) with Eigen; rows L2-normalised. Deterministic given the seed. The fitted model
// (vocabulary, idf, projection) is saved so that --assign embeds new calls into the same space.
// Tested by tests/cluster/test_parts.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cluster/view.h"
#include "core/record.h"

namespace slmify {

/// The calls as masked texts, deduplicated per view part: calls that share a system prompt share
/// one text, whose features are computed once.
class Corpus {
 public:
  /// Starts a call and returns its index; then add() its parts.
  size_t begin_call();
  void add(size_t call, int part, std::string text);
  size_t calls() const { return calls_.size(); }
  size_t texts(int part) const { return texts_[static_cast<size_t>(part)].size(); }
  const std::string& text(int part, size_t i) const { return texts_[static_cast<size_t>(part)][i]; }
  uint32_t uses(int part, size_t i) const { return uses_[static_cast<size_t>(part)][i]; }
  /// Text index of the call's part, or -1 when the call has none.
  int32_t of(size_t call, int part) const { return calls_[call][static_cast<size_t>(part)]; }

 private:
  std::array<std::deque<std::string>, part_count> texts_;
  std::array<std::vector<uint32_t>, part_count> uses_;
  std::array<std::unordered_map<std::string_view, int32_t>, part_count> index_;
  std::vector<std::array<int32_t, part_count>> calls_;
};

struct EmbedSettings {
  int hash_bits = 20;                    ///< log2 of the hashed feature space
  int dim = 256;                         ///< dense dimension (at most the number of calls)
  uint64_t seed = 0;                     ///< seed of the random projection
  std::array<bool, part_count> parts{};  ///< parts that are embedded
};

/// Part weights: a part's L2-normalised TF-IDF vector is scaled by this before the row is
/// normalised (tools and response shape are short, so they count a little less).
double embed_part_weight(int part);

class Embedder {
 public:
  /// Most buckets kept (by document frequency); buckets seen in a single call are dropped.
  static constexpr size_t kMaxFeatures = 65536;
  /// The SVD is fitted on at most this many calls (a seeded sample); all are projected with it.
  static constexpr size_t kFitCalls = 20000;

  /// Fits on `corpus` and returns its embeddings in `x` [calls x dim()], rows L2-normalised.
  /// `stats` gets vocabulary size, non-zeros, explained variance.
  static Embedder fit(const Corpus& corpus, const EmbedSettings& settings, std::vector<float>& x, json& stats);
  /// Embeds the calls of another corpus into the fitted space [calls x dim()].
  std::vector<float> transform(const Corpus& corpus) const;
  int dim() const { return k_; }
  const EmbedSettings& settings() const { return settings_; }

  /// Writes the model with `extra` (e.g. the template miner) in its header; returns its sha256.
  std::string save(const std::filesystem::path& path, const json& extra, unsigned mode) const;
  /// Reads a model written by save(); a damaged file is a bad-data Error naming it.
  static Embedder load(const std::filesystem::path& path, json& extra);

 private:
  EmbedSettings settings_;
  std::vector<uint32_t> buckets_;      // column -> bucket, ascending
  std::vector<float> idf_;             // per column
  std::vector<float> projection_;      // [columns x k_], row-major: x = a * projection
  std::vector<float> singular_values_;
  int k_ = 0;
};

}  // namespace slmify
