// slmify route --router DIR REQUESTS.jsonl: the route each request takes (a small model's adapter
// or the LLM) and why, by the router eval wrote. Parses flags, reads the lines, prints; the rule
// is RouterTable::decide() in lib/eval/router.cpp.
#include <fstream>
#include <iostream>

#include "command.h"
#include "core/error.h"
#include "eval/router.h"

namespace slmify::cli {

namespace {
struct RouteState {
  std::string router, requests = "-";
  bool json = false;
};

constexpr size_t kBatch = 1024;

void print(const RouteDecision& d, size_t line, bool as_json) {
  if (as_json) {
    json j = route_decision_to_json(d);
    j["line"] = line;
    std::cout << j.dump() << "\n";
    return;
  }
  std::cout << line << ": " << (d.route == "slm" ? "slm " + d.model : std::string("llm")) << "  (" << d.reason << ")\n";
}
}  // namespace

void register_route(CLI::App& app, Store& store) {
  RouteState& st = keep<RouteState>(store);
  CLI::App* cmd = app.add_subcommand("route", "route requests by the router eval wrote: a small model's adapter or the LLM, and why");
  cmd->add_option("--router", st.router, "the router/ directory inside the output of `slmify eval`")->required()->type_name("DIR");
  cmd->add_option("REQUESTS", st.requests, "JSON Lines of OpenAI chat request bodies ({\"model\", \"messages\", \"tools\"}), or - for stdin")
      ->capture_default_str();
  cmd->add_flag("--json", st.json, "one JSON object per request on stdout instead of a line of text");
  cmd->callback([&st]() {
    Router router = Router::load(st.router);
    std::ifstream file;
    if (st.requests != "-") {
      file.open(st.requests);
      if (!file) throw_io(st.requests, "cannot be opened", "give a JSON Lines file of request bodies, or - for stdin");
    }
    std::istream& in = st.requests == "-" ? std::cin : file;
    std::vector<json> batch;
    std::vector<size_t> lines;
    auto flush = [&]() {
      std::vector<RouteDecision> ds = router.route(batch);
      for (size_t i = 0; i < ds.size(); ++i) print(ds[i], lines[i], st.json);
      batch.clear();
      lines.clear();
    };
    std::string text;
    for (size_t line = 1; std::getline(in, text); ++line) {
      if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
      json j = json::parse(text, nullptr, false);
      const std::string where = st.requests + ":" + std::to_string(line);
      const char* hint = "each line must be one OpenAI chat request body {\"model\", \"messages\": [...], \"tools\": [...]}";
      if (j.is_discarded() || !j.is_object()) throw_bad_data(where, "is not a JSON object", hint);
      const json& body = j.contains("request") && j["request"].is_object() ? j["request"] : j;
      bool ok = body.contains("messages") && body["messages"].is_array();
      for (size_t m = 0; ok && m < body["messages"].size(); ++m) ok = body["messages"][m].is_object();
      if (!ok) throw_bad_data(where, "has no messages array of message objects", hint);
      batch.push_back(std::move(j));
      lines.push_back(line);
      if (batch.size() >= kBatch) flush();
    }
    if (!batch.empty()) flush();
    std::cout.flush();
  });
}

}  // namespace slmify::cli
