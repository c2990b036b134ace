// Exact and MinHash/LSH de-duplication; see dedup.h.
#include "scrub/dedup.h"

#include <algorithm>
#include <cctype>
#include <limits>

#include "core/hash.h"

namespace slmify {

static uint64_t mix(uint64_t x) {  // splitmix64 finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

static void append_normalised(std::string& out, const std::string& s) {
  bool space = !out.empty();
  for (unsigned char c : s) {
    if (std::isspace(c)) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += static_cast<char>(std::tolower(c));
  }
}

std::string dedup_text(const json& rec) {
  std::string out;
  auto add_calls = [&](const json& holder) {
    if (!holder.contains("tool_calls")) return;
    for (const json& tc : holder["tool_calls"])
      append_normalised(out, tc["function"].value("name", "") + " " + tc["function"].value("arguments", ""));
  };
  for (const json& m : rec["request"]["messages"]) {
    std::string role = m.value("role", "");
    if (role == "system" || role == "developer") continue;
    append_normalised(out, role);
    if (m["content"].is_string()) append_normalised(out, m["content"].get<std::string>());
    add_calls(m);
  }
  const json& resp = rec.value("response", json());
  if (resp.is_object()) {
    append_normalised(out, "=>");
    if (resp.value("content", json()).is_string()) append_normalised(out, resp["content"].get<std::string>());
    add_calls(resp);
  }
  return out;
}

std::vector<uint64_t> dedup_shingles(const std::string& text, size_t k) {
  std::vector<std::string_view> words;
  std::string_view t(text);
  for (size_t i = 0; i < t.size();) {
    size_t j = t.find(' ', i);
    if (j == std::string_view::npos) j = t.size();
    if (j > i) words.push_back(t.substr(i, j - i));
    i = j + 1;
  }
  std::vector<uint64_t> out;
  if (words.size() <= k) {
    out.push_back(fnv1a(text));
    return out;
  }
  for (size_t i = 0; i + k <= words.size(); ++i) {
    uint64_t h = 0;
    for (size_t w = 0; w < k; ++w) h = mix(h ^ fnv1a(words[i + w]));
    out.push_back(h);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Deduper::Deduper(std::string mode, double threshold, size_t shingle_words, uint64_t seed)
    : mode_(std::move(mode)), threshold_(threshold), k_(shingle_words) {
  for (size_t i = 0; i < kPerms; ++i) salts_[i] = mix(seed * kPerms + i + 1);
}

std::string Deduper::check(const json& rec) {
  if (mode_ == "none") return "";
  std::string text = dedup_text(rec);
  std::string digest = sha256_hex(text);
  Key key{std::stoull(digest.substr(0, 16), nullptr, 16), std::stoull(digest.substr(16, 16), nullptr, 16)};
  if (!exact_.insert(key).second) return "duplicate";
  if (mode_ != "near") return "";

  std::array<uint32_t, kPerms> sig;
  sig.fill(std::numeric_limits<uint32_t>::max());
  for (uint64_t sh : dedup_shingles(text, k_))
    for (size_t p = 0; p < kPerms; ++p) sig[p] = std::min(sig[p], static_cast<uint32_t>(mix(sh ^ salts_[p])));
  std::array<uint64_t, kBands> bands;
  for (size_t b = 0; b < kBands; ++b) {
    uint64_t h = mix(b + 1);
    for (size_t r = 0; r < kRows; ++r) h = mix(h ^ sig[b * kRows + r]);
    bands[b] = h;
  }
  // Candidates share a band; a near-duplicate is one whose signatures agree on enough positions.
  for (size_t b = 0; b < kBands; ++b) {
    auto it = buckets_.find(bands[b]);
    if (it == buckets_.end()) continue;
    for (uint32_t idx : it->second) {
      const auto& other = signatures_[idx];
      size_t same = 0;
      for (size_t p = 0; p < kPerms; ++p) same += other[p] == sig[p];
      if (double(same) / kPerms >= threshold_) return "near-duplicate";
    }
  }
  uint32_t idx = static_cast<uint32_t>(signatures_.size());
  signatures_.push_back(sig);
  for (size_t b = 0; b < kBands; ++b) buckets_[bands[b]].push_back(idx);
  return "";
}

}  // namespace slmify
