// A small cluster dataset for the select tests, written the way `slmify cluster` writes one
// (records with ann.cluster and ann.split, clusters.json in the same atomic commit): a tool-call
// task (weather look-ups), a JSON extraction task and `other`. Deterministic given the seed.
#pragma once

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dataset.h"

namespace slmify_test {

struct FixtureCluster {
  int id;
  std::string kind;  ///< tool_call or json
  int calls;
  int eval;          ///< how many of them are in the eval split
  int64_t prompt_tokens = 200, completion_tokens = 30;  ///< logged usage of each call
};

inline nlohmann::json fixture_call(const FixtureCluster& c, int i, std::mt19937_64& rng) {
  using json = nlohmann::json;
  static const char* cities[] = {"Paris", "Berlin", "Lisbon", "Oslo", "Rome", "Vienna", "Dublin", "Prague"};
  static const char* days[] = {"today", "tomorrow", "on Monday", "on Friday"};
  std::string id = "c" + std::to_string(c.id + 10) + "-" + std::to_string(i);
  json rec = {{"id", id},
              {"ts", "2026-11-28T10:00:00.000Z"},
              {"source", {{"format", "openai-chat"}, {"file", "calls.jsonl"}, {"line", i + 1}, {"agent", "a" + std::to_string(c.id + 10)}}},
              {"hci", false},
              {"status", "ok"},
              {"usage", {{"prompt_tokens", c.prompt_tokens}, {"completion_tokens", c.completion_tokens}}}};
  std::string city = cities[rng() % 8], day = days[rng() % 4];
  if (c.kind == "tool_call") {
    json tools = json::array({{{"type", "function"},
                               {"function", {{"name", "get_weather"}, {"description", "Weather forecast for a city"},
                                             {"parameters", {{"type", "object"},
                                                             {"properties", {{"city", {{"type", "string"}}}, {"day", {{"type", "string"}}}}},
                                                             {"required", json::array({"city"})}}}}}}});
    rec["request"] = {{"model", "gpt-4o"},
                      {"messages", json::array({{{"role", "system"}, {"content", "You answer weather questions with the get_weather tool."}},
                                                {{"role", "user"}, {"content", "What is the weather in " + city + " " + day + "?"}}})},
                      {"tools", tools}};
    rec["response"] = {{"content", nullptr},
                       {"tool_calls", json::array({{{"id", "call_" + std::to_string(i)}, {"type", "function"},
                                                    {"function", {{"name", "get_weather"},
                                                                  {"arguments", json({{"city", city}, {"day", day}}).dump()}}}}})},
                       {"finish_reason", "tool_calls"}};
  } else {
    std::string order = std::to_string(10000 + rng() % 90000);
    std::string status = rng() % 2 ? "shipped" : "delayed";
    rec["request"] = {{"model", "gpt-4o"},
                      {"messages", json::array({{{"role", "system"}, {"content", "Extract fields as JSON."}},
                                                {{"role", "user"}, {"content", "Order " + order + " to " + city + " is " + status + "."}}})}};
    rec["response"] = {{"content", json({{"order", order}, {"status", status}}).dump()}, {"finish_reason", "stop"}};
  }
  return rec;
}

/// Writes the dataset and its clusters.json into `dir`.
inline void write_cluster_fixture(const std::filesystem::path& dir, const std::vector<FixtureCluster>& clusters, uint64_t seed = 7) {
  using json = nlohmann::json;
  slmify::WriterOptions wo;
  wo.stage = "cluster";
  slmify::DatasetWriter w(dir, wo);
  std::mt19937_64 rng(seed);
  json list = json::array();
  for (const FixtureCluster& c : clusters) {
    for (int i = 0; i < c.calls; ++i) {
      json rec = fixture_call(c, i, rng);
      rec["ann"] = {{"cluster", {{"id", c.id}, {"dist", 0.1}}}, {"split", i < c.eval ? "eval" : "train"}};
      w.write(rec);
    }
    list.push_back({{"id", c.id}, {"label", c.id < 0 ? "other (stays on the LLM)" : c.kind == "tool_call" ? "weather / city" : "order / status"},
                    {"size", c.calls}, {"output_kind", c.kind}, {"eval_calls", c.eval}});
  }
  json doc = {{"format", "slmify-clusters"}, {"version", 1}, {"clusters", list}};
  std::ofstream(w.staging_dir() / "clusters.json") << doc.dump(2);
  w.commit();
}

}  // namespace slmify_test
