// c-TF-IDF labels and per-cluster figures for clusters.json; see label.h.
// Tested by tests/cluster/test_cluster.cpp (labels, figures).
#include "cluster/label.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>
#include <unordered_set>


namespace slmify {

namespace {

bool is_stop_word(std::string_view w) {
  static const std::unordered_set<std::string_view> stop = {
      "the", "and", "for", "are", "but", "not", "you", "your", "yours", "all", "any", "can", "had", "her", "was", "one",
      "our", "out", "has", "have", "him", "his", "how", "its", "may", "new", "now", "own", "she", "too", "use", "who",
      "why", "with", "this", "that", "from", "they", "them", "their", "there", "then", "than", "what", "when", "where",
      "which", "will", "would", "could", "should", "into", "only", "about", "also", "been", "being", "were", "does",
      "did", "each", "just", "more", "most", "other", "some", "such", "these", "those", "very", "over", "under", "after",
      "before", "again", "here", "once", "both", "same", "while", "because", "until", "between", "through", "during",
      "without", "within", "please", "thank", "thanks", "hi", "hello", "dear", "regards", "yes", "get", "got", "let",
      "one", "two", "per", "via", "via", "etc", "off", "onto", "upon", "like", "must", "shall", "might", "able"};
  return stop.count(w) > 0;
}

bool is_term(std::string_view w) {
  if (w.size() < 3 || w.front() == '<' || is_stop_word(w)) return false;
  return !std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::vector<std::vector<std::string>> label_terms(const Corpus& corpus, const std::array<bool, part_count>& parts,
                                                  const std::vector<int32_t>& group, size_t groups, size_t top) {
  std::vector<std::unordered_map<std::string, double>> tf(groups);
  std::unordered_map<std::string, double> overall;
  std::vector<double> words_in(groups, 0);
  std::string buffer;
  std::vector<std::string_view> words;
  for (int p : {int(part_system), int(part_last_user), int(part_all_user), int(part_tools), int(part_response)}) {
    if (!parts[static_cast<size_t>(p)] && !(p == part_system || p == part_last_user)) continue;
    // How many calls of each group use each distinct text of this part.
    std::vector<std::map<int32_t, uint32_t>> uses(corpus.texts(p));
    for (size_t c = 0; c < corpus.calls(); ++c)
      if (int32_t t = corpus.of(c, p); t >= 0) ++uses[static_cast<size_t>(t)][group[c]];
    for (size_t t = 0; t < uses.size(); ++t) {
      if (uses[t].empty()) continue;
      word_tokens(corpus.text(p, t), buffer, words);
      std::unordered_map<std::string_view, uint32_t> counts;
      for (std::string_view w : words)
        if (is_term(w)) ++counts[w];
      for (const auto& [g, n] : uses[t])
        for (const auto& [w, c] : counts) {
          double add = static_cast<double>(c) * n;
          tf[static_cast<size_t>(g)][std::string(w)] += add;
          overall[std::string(w)] += add;
          words_in[static_cast<size_t>(g)] += add;
        }
    }
  }
  double avg = 0;
  for (double w : words_in) avg += w / static_cast<double>(std::max<size_t>(groups, 1));
  std::vector<std::vector<std::string>> out(groups);
  for (size_t g = 0; g < groups; ++g) {
    std::vector<std::pair<double, std::string>> scored;
    for (const auto& [w, c] : tf[g])
      scored.push_back({-(c / std::max(words_in[g], 1.0)) * std::log(1.0 + avg / overall[w]), w});
    size_t n = std::min(top, scored.size());
    std::partial_sort(scored.begin(), scored.begin() + static_cast<long>(n), scored.end());
    for (size_t i = 0; i < n; ++i) out[g].push_back(scored[i].second);
  }
  return out;
}

std::vector<json> describe_groups(const Corpus& corpus, const std::vector<CallFacts>& facts, const std::vector<int32_t>& group,
                                  size_t groups, bool show_text) {
  struct Acc {
    size_t size = 0, latency_n = 0;
    double prompt = 0, completion = 0, cost = 0, latency = 0;
    std::array<size_t, 4> kinds{};
    std::map<int32_t, size_t> templates, systems;
  };
  std::vector<Acc> acc(groups);
  double all_tokens = 0, all_cost = 0;
  for (size_t i = 0; i < facts.size(); ++i) {
    Acc& a = acc[static_cast<size_t>(group[i])];
    const CallFacts& f = facts[i];
    ++a.size;
    a.prompt += f.prompt_tokens;
    a.completion += f.completion_tokens;
    a.cost += f.cost_usd;
    if (f.latency_ms >= 0) a.latency += f.latency_ms, ++a.latency_n;
    ++a.kinds[static_cast<size_t>(f.kind)];
    if (int32_t t = corpus.of(i, part_template); t >= 0) ++a.templates[t];
    if (int32_t t = corpus.of(i, part_system); t >= 0) ++a.systems[t];
    all_tokens += f.prompt_tokens + f.completion_tokens;
    all_cost += f.cost_usd;
  }
  std::vector<json> out;
  const double n = static_cast<double>(facts.size());
  for (const Acc& a : acc) {
    double size = static_cast<double>(std::max<size_t>(a.size, 1));
    json kinds = json::object();
    size_t best = 0;
    for (size_t k = 0; k < a.kinds.size(); ++k) {
      if (a.kinds[k]) kinds[output_kind_name(static_cast<OutputKind>(k))] = a.kinds[k];
      if (a.kinds[k] > a.kinds[best]) best = k;
    }
    auto top = [](const std::map<int32_t, size_t>& m, size_t at_most) {
      std::vector<std::pair<size_t, int32_t>> v;
      for (const auto& [t, c] : m) v.push_back({c, t});
      std::sort(v.begin(), v.end(), [](const auto& x, const auto& y) { return x.first != y.first ? x.first > y.first : x.second < y.second; });
      v.resize(std::min(at_most, v.size()));
      return v;
    };
    json templates = json::array(), systems = json::array();
    for (const auto& [c, t] : top(a.templates, 3)) {
      json o = {{"calls", c}};
      if (show_text) o["template"] = excerpt(corpus.text(part_template, static_cast<size_t>(t)), 600);
      templates.push_back(o);
    }
    for (const auto& [c, t] : top(a.systems, 2)) {
      json o = {{"calls", c}};
      if (show_text) o["system"] = excerpt(corpus.text(part_system, static_cast<size_t>(t)), 300);
      systems.push_back(o);
    }
    out.push_back({{"size", a.size},
                   {"share_calls", n > 0 ? static_cast<double>(a.size) / n : 0.0},
                   {"share_tokens", all_tokens > 0 ? (a.prompt + a.completion) / all_tokens : 0.0},
                   {"share_cost", all_cost > 0 ? json(a.cost / all_cost) : json()},
                   {"output_kind", output_kind_name(static_cast<OutputKind>(best))},
                   {"output_kinds", kinds},
                   {"mean_prompt_tokens", a.prompt / size},
                   {"mean_completion_tokens", a.completion / size},
                   {"mean_latency_ms", a.latency_n ? json(a.latency / static_cast<double>(a.latency_n)) : json()},
                   {"templates", templates},
                   {"distinct_templates", a.templates.size()},
                   {"system_prompts", systems},
                   {"distinct_system_prompts", a.systems.size()}});
  }
  return out;
}

}  // namespace slmify
