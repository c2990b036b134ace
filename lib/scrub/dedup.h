// De-duplication for scrub: exact (a hash of the normalised conversation) and near-duplicate
// (MinHash over word shingles with LSH banding, then the estimated Jaccard similarity against the
// threshold), keeping the earliest. The system prompt is left out of the comparison: agents send
// the same long instructions with every call, which would make different calls look alike.
// Memory: 16 bytes per call for exact, about 300 bytes more for near. Tested by
// tests/scrub/test_dedup.cpp against a brute-force Jaccard.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/record.h"

namespace slmify {

/// The text compared: non-system messages, tool calls and the response, lower-cased, with runs of
/// white space collapsed.
std::string dedup_text(const json& rec);
/// Word shingles of `k` words, hashed (a text shorter than k words is one shingle).
std::vector<uint64_t> dedup_shingles(const std::string& text, size_t k);

class Deduper {
 public:
  static constexpr size_t kPerms = 64, kBands = 16, kRows = kPerms / kBands;
  /// mode: "none", "exact" or "near" (near includes exact).
  Deduper(std::string mode, double threshold, size_t shingle_words, uint64_t seed);
  /// Empty when `rec` is new (it is remembered), else the drop reason: "duplicate" or
  /// "near-duplicate".
  std::string check(const json& rec);

 private:
  std::string mode_;
  double threshold_;
  size_t k_;
  std::array<uint64_t, kPerms> salts_;
  struct Key {
    uint64_t a, b;
    bool operator==(const Key& o) const { return a == o.a && b == o.b; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return static_cast<size_t>(k.a); }
  };
  std::unordered_set<Key, KeyHash> exact_;
  std::vector<std::array<uint32_t, kPerms>> signatures_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> buckets_;  // band hash -> signature indexes
};

}  // namespace slmify
