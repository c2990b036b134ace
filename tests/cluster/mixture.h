// A labelled mixture of agent calls from six clearly distinct task types, for the cluster tests
// and bench/bench_cluster: the tasks differ in their prompt templates, tools and output shapes,
// while the free text inside them comes from one shared word pool (so words alone do not give
// the task away) and three of them share one system prompt. Deterministic given the seed.
// Also NMI and ARI, written out from their definitions, to score a clustering against the labels.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace slmify_test {

using mix_json = nlohmann::json;

constexpr int kMixtureTasks = 6;

inline std::string mixture_words(std::mt19937_64& rng, int lo, int hi) {
  static const char* pool[] = {"order", "parcel", "delivery", "refund", "account", "password", "invoice", "payment",
                               "late", "broken", "screen", "battery", "charger", "jacket", "boots", "tent",
                               "the", "my", "was", "is", "not", "again", "today", "yesterday", "still", "never",
                               "arrived", "working", "please", "help", "need", "want", "store", "size", "colour",
                               "warranty", "support", "agent", "phone", "email", "address", "week", "month", "box"};
  const size_t n = sizeof pool / sizeof pool[0];
  int len = lo + static_cast<int>(rng() % static_cast<uint64_t>(hi - lo + 1));
  std::string s;
  for (int i = 0; i < len; ++i) s += (i ? " " : "") + std::string(pool[rng() % n]);
  return s;
}

inline std::string mixture_name(std::mt19937_64& rng) {
  static const char* first[] = {"Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Gita", "Hugo", "Ines", "Jon"};
  static const char* last[] = {"Smith", "Okafor", "Tanaka", "Schulz", "Garcia", "Moreau", "Khan", "Olsen"};
  return std::string(first[rng() % 10]) + " " + last[rng() % 8];
}

/// One call of task `task` (0..5).
inline mix_json mixture_call(int task, std::mt19937_64& rng, const std::string& id) {
  const std::string shared_system = "You are a helpful assistant for Acme Outdoor. Answer precisely.";
  mix_json msgs = mix_json::array(), tools = mix_json::array(), resp;
  auto user = [&](const std::string& s) { msgs.push_back({{"role", "user"}, {"content", s}}); };
  auto num = [&](int digits) {
    std::string s;
    for (int i = 0; i < digits; ++i) s += static_cast<char>('0' + rng() % 10);
    return s;
  };
  switch (task) {
    case 0:  // sentiment, shared system prompt, JSON answer
      msgs.push_back({{"role", "system"}, {"content", shared_system}});
      user("Classify the sentiment of this review as positive, negative or neutral.\nReview: \"" + mixture_words(rng, 6, 20) + "\"\nAnswer in JSON.");
      resp = {{"content", mix_json({{"sentiment", rng() % 2 ? "negative" : "positive"}}).dump()}, {"finish_reason", "stop"}};
      break;
    case 1:  // translation, shared system prompt, text answer
      msgs.push_back({{"role", "system"}, {"content", shared_system}});
      user("Translate the following customer message into French, keeping the tone.\n\n" + mixture_words(rng, 8, 30));
      resp = {{"content", "Bonjour, " + mixture_words(rng, 8, 30)}, {"finish_reason", "stop"}};
      break;
    case 2:  // SQL, shared system prompt, code answer
      msgs.push_back({{"role", "system"}, {"content", shared_system}});
      user("Write one PostgreSQL query over the orders table (order_id, customer_id, total, status, created_at) that answers: how many orders with status " +
           std::string(rng() % 2 ? "'late'" : "'refunded'") + " were created in the last " + num(2) + " days?");
      resp = {{"content", "SELECT count(*) FROM orders WHERE status = 'late' AND created_at > NOW() - INTERVAL '" + num(2) + " days';"},
              {"finish_reason", "stop"}};
      break;
    case 3: {  // routing with a tool, no system prompt
      tools.push_back({{"type", "function"}, {"function", {{"name", "route_ticket"}, {"parameters", {{"type", "object"}}}}}});
      user("Ticket #" + num(6) + " from " + mixture_name(rng) + " <" + "c" + num(4) + "@example.com>\nChannel: " +
           (rng() % 2 ? "email" : "web") + "\n\n" + mixture_words(rng, 10, 40));
      mix_json call = {{"id", "call_" + num(8)}, {"type", "function"},
                       {"function", {{"name", "route_ticket"}, {"arguments", mix_json({{"queue", rng() % 2 ? "billing" : "shipping"}}).dump()}}}};
      resp = {{"content", nullptr}, {"tool_calls", mix_json::array({call})}, {"finish_reason", "tool_calls"}};
      break;
    }
    case 4: {  // thread summary, own system prompt, text answer
      msgs.push_back({{"role", "system"}, {"content", "You summarise support threads in two sentences for the next agent."}});
      std::string thread;
      int turns = 2 + static_cast<int>(rng() % 3);
      for (int t = 0; t < turns; ++t) thread += "--- " + mixture_name(rng) + " wrote on " + num(2) + " Nov:\n" + mixture_words(rng, 6, 18) + "\n";
      user("Summarise this thread:\n" + thread);
      resp = {{"content", "The customer says " + mixture_words(rng, 6, 14) + ". Next step: " + mixture_words(rng, 3, 6) + "."}, {"finish_reason", "stop"}};
      break;
    }
    default: {  // extraction with a lookup tool offered, own system prompt, JSON answer
      msgs.push_back({{"role", "system"}, {"content", "Extract the fields name, email and order_id from the message. Reply with one JSON object."}});
      tools.push_back({{"type", "function"}, {"function", {{"name", "lookup_customer"}, {"parameters", {{"type", "object"}}}}}});
      std::string name = mixture_name(rng);
      user("Message from the web form:\nName: " + name + "\nOrder: " + num(7) + "\n" + mixture_words(rng, 5, 25));
      resp = {{"content", mix_json({{"name", name}, {"email", nullptr}, {"order_id", num(7)}}).dump()}, {"finish_reason", "stop"}};
      break;
    }
  }
  mix_json request = {{"model", "gpt-4o-mini"}, {"messages", msgs}};
  if (!tools.empty()) request["tools"] = tools;
  return {{"id", id},
          {"source", {{"format", "openai-chat"}, {"agent", "task-" + std::to_string(task)}}},
          {"hci", false},
          {"status", "ok"},
          {"request", request},
          {"response", resp},
          {"usage", {{"prompt_tokens", 50 + rng() % 200}, {"completion_tokens", 5 + rng() % 80}}},
          {"latency_ms", 200 + rng() % 900},
          {"cost_usd", 0.0001 * static_cast<double>(1 + rng() % 20)}};
}

/// n calls in random task order (labels in `labels`), ids "<prefix>-<i>".
inline std::vector<mix_json> mixture(size_t n, uint64_t seed, std::vector<int>& labels, const std::string& prefix = "mix") {
  std::mt19937_64 rng(seed);
  std::vector<mix_json> out;
  labels.clear();
  for (size_t i = 0; i < n; ++i) {
    int task = static_cast<int>(rng() % kMixtureTasks);
    labels.push_back(task);
    out.push_back(mixture_call(task, rng, prefix + "-" + std::to_string(i)));
  }
  return out;
}

/// Normalised mutual information, arithmetic mean of the entropies (scikit-learn's default).
inline double nmi(const std::vector<int>& a, const std::vector<int>& b) {
  std::map<int, double> pa, pb;
  std::map<std::pair<int, int>, double> pab;
  const double n = static_cast<double>(a.size());
  for (size_t i = 0; i < a.size(); ++i) pa[a[i]] += 1 / n, pb[b[i]] += 1 / n, pab[{a[i], b[i]}] += 1 / n;
  double mi = 0, ha = 0, hb = 0;
  for (auto& [k, p] : pab) mi += p * std::log(p / (pa[k.first] * pb[k.second]));
  for (auto& [k, p] : pa) ha -= p * std::log(p);
  for (auto& [k, p] : pb) hb -= p * std::log(p);
  return ha + hb == 0 ? 1.0 : mi / ((ha + hb) / 2);
}

/// Adjusted Rand index (Hubert and Arabie 1985) from the contingency table.
inline double ari(const std::vector<int>& a, const std::vector<int>& b) {
  auto c2 = [](double x) { return x * (x - 1) / 2; };
  std::map<int, double> ra, rb;
  std::map<std::pair<int, int>, double> nab;
  for (size_t i = 0; i < a.size(); ++i) ++ra[a[i]], ++rb[b[i]], ++nab[{a[i], b[i]}];
  double index = 0, sa = 0, sb = 0;
  for (auto& [k, v] : nab) index += c2(v);
  for (auto& [k, v] : ra) sa += c2(v);
  for (auto& [k, v] : rb) sb += c2(v);
  double expected = sa * sb / c2(static_cast<double>(a.size())), max = (sa + sb) / 2;
  return max == expected ? 1.0 : (index - expected) / (max - expected);
}

}  // namespace slmify_test
