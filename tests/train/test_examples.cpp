// Training examples (lib/train/examples.h): the loss mask covers the response and its
// end-of-turn token only, never the prompt or earlier assistant turns; over-long calls are
// refused, not truncated; packing places every example once within the length. The tokenizer and
// template are those `slmify model init` writes for the quick-start calls.
#include <catch2/catch.hpp>

#include <numeric>
#include <random>

#include "../core/test_util.h"
#include "model/chat_template.h"
#include "model/tokenizer.h"
#include "train/examples.h"

using namespace slmify;
using namespace slmify_test;

namespace {

struct Fixture {
  TempDir tmp;
  std::unique_ptr<Tokenizer> tok;
  ChatTemplate tmpl;
  Fixture() {
    fs::path logs = fs::path(SLMIFY_SOURCE_DIR) / "examples" / "quickstart" / "logs";
    std::string s = shell_quote(SLMIFY_BINARY);
    REQUIRE(run_command(s + " -q collect " + shell_quote(logs.string()) + " -o " + shell_quote((tmp / "calls").string())).status == 0);
    REQUIRE(run_command(s + " -q model init -o " + shell_quote((tmp / "m").string()) + " --from " + shell_quote((tmp / "calls").string())).status == 0);
    tok = tokenizer_load(tmp / "m");
    tmpl = chat_template_named("chatml-tools");
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

json record(json messages, json response, json tools = nullptr) {
  json r = {{"request", {{"messages", std::move(messages)}}}, {"response", std::move(response)}};
  if (!tools.is_null()) r["request"]["tools"] = tools;
  return r;
}

std::string masked_text(const Tokenizer& tok, const TrainExample& ex) {
  TokenIds sel;
  for (size_t i = 0; i < ex.ids.size(); ++i)
    if (ex.mask[i]) sel.push_back(ex.ids[i]);
  std::string s;
  for (int32_t id : sel) s += tok.token_text(id);
  return s;
}

}  // namespace

TEST_CASE("examples: the mask covers the reply and its end-of-turn token, not the prompt or earlier replies", "[train]") {
  Fixture& f = fixture();
  json msgs = json::array({{{"role", "system"}, {"content", "Route tickets."}},
                           {{"role", "user"}, {"content", "first question"}},
                           {{"role", "assistant"}, {"content", "EARLIER ANSWER"}},
                           {{"role", "user"}, {"content", "second question"}}});
  TrainExample ex;
  std::string why;
  REQUIRE(example_from_record(f.tmpl, *f.tok, record(msgs, {{"content", "the reply"}}), 1024, ex, why));
  REQUIRE(ex.ids.size() == ex.mask.size());
  // The masked tokens are one contiguous run at the end of the reply turn, ending in <|im_end|>.
  size_t first = 0, last = 0, runs = 0;
  for (size_t i = 0; i < ex.mask.size(); ++i)
    if (ex.mask[i] && (i == 0 || !ex.mask[i - 1])) {
      ++runs;
      first = i;
    }
  for (size_t i = 0; i < ex.mask.size(); ++i)
    if (ex.mask[i]) last = i;
  CHECK(runs == 1);
  CHECK(ex.ids[last] == f.tok->token_id("<|im_end|>"));
  std::string text = masked_text(*f.tok, ex);
  CHECK(text.find("reply") != std::string::npos);
  CHECK(text.find("EARLIER") == std::string::npos);
  CHECK(text.find("question") == std::string::npos);
  // Everything before the reply is the same tokens as the generation prompt the model sees.
  std::vector<ChatSegment> prompt = chat_render(f.tmpl, msgs, nullptr, true);
  ChatTokens pt = chat_encode(*f.tok, prompt);
  CHECK(first == pt.ids.size());
  CHECK(std::equal(pt.ids.begin(), pt.ids.end(), ex.ids.begin()));
  CHECK(ex.targets() == int64_t(last - first + 1));
}

TEST_CASE("examples: tool calls are learnt with their tool definitions in the prompt", "[train]") {
  Fixture& f = fixture();
  json tools = json::array({{{"type", "function"},
                             {"function", {{"name", "route_ticket"}, {"parameters", {{"type", "object"}, {"properties", {{"queue", {{"type", "string"}}}}}}}}}}});
  json resp = {{"content", nullptr},
               {"tool_calls", json::array({{{"id", "c1"}, {"type", "function"}, {"function", {{"name", "route_ticket"}, {"arguments", "{\"queue\":\"billing\"}"}}}}})}};
  TrainExample ex;
  std::string why;
  REQUIRE(example_from_record(f.tmpl, *f.tok, record(json::array({{{"role", "user"}, {"content", "charged twice"}}}), resp, tools), 4096, ex, why));
  std::string text = masked_text(*f.tok, ex);
  CHECK(text.find("route") != std::string::npos);
  CHECK(text.find("billing") != std::string::npos);
  std::string all;
  for (int32_t id : ex.ids) all += f.tok->token_text(id);
  CHECK(all.find("tools") != std::string::npos);  // the tool definitions are in the prompt
}

TEST_CASE("examples: an over-long call is refused whole, never truncated, and an empty reply has no target", "[train]") {
  Fixture& f = fixture();
  std::string long_text;
  for (int i = 0; i < 400; ++i) long_text += "word" + std::to_string(i) + " ";
  TrainExample ex;
  std::string why;
  CHECK_FALSE(example_from_record(f.tmpl, *f.tok, record(json::array({{{"role", "user"}, {"content", long_text}}}), {{"content", "ok"}}), 64, ex, why));
  CHECK(why == "too_long");
  json bad = record(json::array({{{"role", "user"}, {"content", "x"}}}),
                    {{"tool_calls", json::array({{{"id", "c"}, {"type", "function"}, {"function", {{"name", "f"}, {"arguments", "{not json"}}}}})}});
  CHECK_FALSE(example_from_record(f.tmpl, *f.tok, bad, 1024, ex, why));
  CHECK(why.rfind("unrenderable", 0) == 0);
}

TEST_CASE("examples: packing puts every example in exactly one sequence within the length, first fit", "[train]") {
  std::mt19937_64 rng(3);
  std::vector<int64_t> len(300);
  for (int64_t& l : len) l = 1 + int64_t(rng() % 100);
  std::vector<int32_t> order(len.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  auto seqs = pack_examples(len, order, 128, true);
  std::vector<int> seen(len.size(), 0);
  int64_t total = 0;
  for (const auto& s : seqs) {
    int64_t sum = 0;
    for (int32_t i : s) {
      ++seen[size_t(i)];
      sum += len[size_t(i)];
    }
    CHECK(sum <= 128);
    total += sum;
  }
  CHECK(std::all_of(seen.begin(), seen.end(), [](int c) { return c == 1; }));
  // First fit leaves little room: fewer sequences than one per example, close to the bound.
  CHECK(seqs.size() < len.size() / 2);
  CHECK(double(total) / double(seqs.size() * 128) > 0.85);
  CHECK(pack_examples(len, order, 128, false).size() == len.size());
}

TEST_CASE("examples: shared-prefix groups hold each example once, share only identical target-free prefixes, fit the length",
          "[train]") {
  // 120 calls under three system prompts: two of 40 tokens (A, B) and one of 8 (C, too short to
  // share at min_shared 16). Each call: its prompt, a user part of 5-24 tokens, a reply of 3-12
  // target tokens. A few A-calls have an earlier target inside the prompt (a multi-turn call), so
  // a group holding one of them may share only what lies before that target.
  std::mt19937_64 rng(17);
  auto draw = [&](size_t n) {
    TokenIds v(n);
    for (int32_t& x : v) x = int32_t(rng() % 500);
    return v;
  };
  const TokenIds A = draw(40), B = draw(40), C = draw(8);
  std::vector<TrainExample> ex;
  for (int i = 0; i < 120; ++i) {
    const TokenIds& sys = i % 3 == 0 ? A : i % 3 == 1 ? B : C;
    TrainExample x;
    x.ids = sys;
    TokenIds user = draw(5 + rng() % 20), reply = draw(3 + rng() % 10);
    x.ids.insert(x.ids.end(), user.begin(), user.end());
    x.mask.assign(x.ids.size(), 0);
    if (i % 3 == 0 && i % 4 == 0) x.mask[size_t(20 + i % 7)] = 1;  // an earlier assistant token inside A
    x.ids.insert(x.ids.end(), reply.begin(), reply.end());
    x.mask.resize(x.ids.size(), 1);
    ex.push_back(std::move(x));
  }
  std::vector<int32_t> order(ex.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  const int64_t max_len = 256, min_shared = 16;
  std::vector<PrefixGroup> groups = group_shared_prefix(ex, order, max_len, min_shared);

  std::vector<int> seen(ex.size(), 0);
  int64_t tokens = 0, saved = 0;
  for (const PrefixGroup& g : groups) {
    REQUIRE(!g.ex.empty());
    int64_t len = g.prefix;
    for (int32_t i : g.ex) {
      const TrainExample& x = ex[size_t(i)];
      ++seen[size_t(i)];
      len += int64_t(x.ids.size()) - g.prefix;
      REQUIRE(g.prefix < int64_t(x.ids.size()));
      // The prefix is the same tokens in every member and holds none of its targets.
      for (int64_t k = 0; k < g.prefix; ++k) {
        CHECK(x.ids[size_t(k)] == ex[size_t(g.ex[0])].ids[size_t(k)]);
        CHECK(x.mask[size_t(k)] == 0);
      }
    }
    CHECK(g.len == len);
    CHECK(g.len <= max_len);
    if (g.ex.size() == 1) CHECK(g.prefix == 0);
    else CHECK(g.prefix >= min_shared);
    tokens += g.len;
    saved += g.prefix * int64_t(g.ex.size() - 1);
  }
  CHECK(std::all_of(seen.begin(), seen.end(), [](int c) { return c == 1; }));
  // The C-calls cannot share (8 tokens < min_shared); A- and B-calls share their 40 tokens (or
  // what precedes an early target): most of the 80 of them sit in groups.
  int64_t grouped = 0;
  for (const PrefixGroup& g : groups)
    if (g.ex.size() > 1) grouped += int64_t(g.ex.size());
  CHECK(grouped >= 70);
  CHECK(saved > 70 * 20);
  for (const PrefixGroup& g : groups)
    if (g.ex.size() > 1)
      for (int32_t i : g.ex) CHECK(i % 3 != 2);
  // Groups come in the order of their first members; without sharing, every call is its own.
  for (size_t k = 1; k < groups.size(); ++k) {
    auto at = [&](int32_t i) { return std::find(order.begin(), order.end(), i) - order.begin(); };
    CHECK(at(groups[k - 1].ex[0]) < at(groups[k].ex[0]));
  }
  std::vector<PrefixGroup> single = group_shared_prefix(ex, order, max_len, 0);
  REQUIRE(single.size() == ex.size());
  for (size_t k = 0; k < single.size(); ++k) CHECK((single[k].ex == std::vector<int32_t>{order[k]} && single[k].prefix == 0));
}
