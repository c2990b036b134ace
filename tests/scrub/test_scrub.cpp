// scrub end to end: a canary test (planted personal data appears in no file of any output,
// quarantine and report included), format-preserving pseudonyms, the other policies, filters,
// de-duplication against a brute-force Jaccard, accounting, and clear errors.
#include <catch2/catch.hpp>
#include <fstream>
#include <set>

#include "../core/test_util.h"
#include "collect/collect.h"
#include "core/dataset.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "scrub/dedup.h"
#include "scrub/replace.h"
#include "scrub/scrub.h"
#include "scrub/validate.h"

using namespace slmify;
using slmify_test::TempDir;
namespace fs = std::filesystem;

namespace {

const char* kKeyHex = "8f3b6a1c2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";

// The canaries: values a scrubbed dataset must never contain, in any file.
const std::vector<std::string> kCanaries = {
    "canary.person@northwind-mail.com", "4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00", "+44 20 7946 0958",
    "AKIAIOSFODNN7EXAMPLE", "ghp_4fT9kQ2mXv8LpR6sN1wZ3yB7cD5eH0jK2lMn", "192.0.2.146", "536-22-8417",
    "sk-proj-Zq8Lm3Nx7Vb2Kc5Jh9Gf4Dd1Ss6Aa0Pp"};

std::string call_line(int n) {
  json tools = json::array({{{"type", "function"},
                             {"function", {{"name", "refund"},
                                           {"description", "Refund an order; escalate to canary.person@northwind-mail.com"},
                                           {"parameters", {{"type", "object"},
                                                           {"properties", {{"card", {{"type", "string"}}}, {"order", {{"type", "string"}}}}},
                                                           {"required", {"card", "order"}}}}}}}});
  json msgs = json::array({
      {{"role", "system"}, {"content", "You refund orders. Internal contact: +44 20 7946 0958."}},
      {{"role", "user"}, {"content", "Order " + std::to_string(1000 + n) + ": please refund to my card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00. Mail canary.person@northwind-mail.com, SSN 536-22-8417."}},
      {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", {{{"id", "c1"}, {"type", "function"}, {"function", {{"name", "lookup"}, {"arguments", "{\"ip\": \"192.0.2.146\"}"}}}}}}},
      {{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "{\"key\": \"AKIAIOSFODNN7EXAMPLE\", \"token\": \"ghp_4fT9kQ2mXv8LpR6sN1wZ3yB7cD5eH0jK2lMn\"}"}},
  });
  json args = {{"card", "4111 1111 1111 1111"}, {"order", std::to_string(1000 + n)}, {"note", "key sk-proj-Zq8Lm3Nx7Vb2Kc5Jh9Gf4Dd1Ss6Aa0Pp"}};
  json call = {{"id", "c2"}, {"type", "function"}, {"function", {{"name", "refund"}, {"arguments", args.dump()}}}};
  json message = {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array({call})}};
  json resp = {{"choices", json::array({json{{"index", 0}, {"finish_reason", "tool_calls"}, {"message", message}}})}};
  json line = {{"request", {{"model", "gpt-4o-mini"}, {"messages", msgs}, {"tools", tools}}}, {"response", resp}, {"agent", "refunds"}};
  return line.dump();
}

std::string all_output_text(const fs::path& dir) {
  // Every file of the output, decompressed where it is zstd: what a leak would be found in.
  std::string all;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string p = e.path().string();
    if (p.size() > 4 && p.substr(p.size() - 4) == ".zst") all += slmify_test::run_command("zstd -dc " + slmify_test::shell_quote(p)).out;
    else all += slmify_test::read_bytes(e.path());
  }
  return all;
}

std::vector<json> records(const fs::path& dir) {
  DatasetReader r(dir);
  std::vector<json> out;
  json rec;
  while (r.next(rec)) out.push_back(rec);
  return out;
}

struct Run {
  TempDir t;
  PipelineConfig c;
  Run() {
    setenv("SLMIFY_TEST_SCRUB_KEY", kKeyHex, 1);
    c.scrub.key_env = "SLMIFY_TEST_SCRUB_KEY";
  }
  json collect(const std::string& jsonl) {
    slmify_test::write_bytes(t / "calls.jsonl", jsonl);
    return collect_run(c, StageIO{{(t / "calls.jsonl").string()}, (t / "collect").string()}, Context{});
  }
  json scrub(const std::string& out = "scrub") {
    return scrub_run(c, StageIO{{(t / "collect").string()}, (t / out).string()}, Context{});
  }
};

}  // namespace

TEST_CASE("scrub canary: planted personal data appears in no output file, report included", "[scrub]") {
  Run run;
  std::string logs;
  for (int i = 0; i < 5; ++i) logs += call_line(i) + "\n";
  logs += "{not json but has canary.person@northwind-mail.com}\n";  // quarantined by collect, not by scrub
  run.collect(logs);
  run.c.scrub.report = (run.t / "scrub" / "..").string() + "/report.txt";
  run.c.scrub.report = (run.t / "report.txt").string();
  for (const char* policy : {"pseudonym", "mask", "hash"}) {
    run.c.scrub.replacement = policy;
    std::string out = std::string("scrub-") + policy;
    json s = run.scrub(out);
    INFO("replacement " << policy);
    CHECK(s["out"] == 5);
    std::string text = all_output_text(run.t / out) + slmify_test::read_bytes(run.t / "report.txt");
    for (const std::string& canary : kCanaries) {
      INFO("canary " << canary);
      CHECK(text.find(canary) == std::string::npos);
    }
    for (const json& r : records(run.t / out)) {
      // JSON inside tool-call arguments is still JSON, with the same keys.
      json args = json::parse(r["response"]["tool_calls"][0]["function"]["arguments"].get<std::string>());
      CHECK(args.contains("card"));
      CHECK(args["order"].get<std::string>().size() == 4);
      CHECK(r["ann"]["scrub"]["redactions"].contains("CARD"));
    }
  }
}

TEST_CASE("pseudonyms keep the shape: consistent, Luhn-valid cards, valid IBANs, emails stay emails", "[scrub]") {
  ScrubKey k;
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<unsigned char>(i * 7);
  Replacer r(k);
  for (const char* card : {"4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005"}) {
    std::string p = r.pseudonym("CARD", card);
    INFO(card << " -> " << p);
    CHECK(p.size() == std::string(card).size());
    CHECK(p[0] == card[0]);
    CHECK(luhn_valid(digits_of(p)));
    CHECK(p != card);
    CHECK(r.pseudonym("CARD", card) == p);  // the same value, the same stand-in
  }
  for (const char* iban : {"DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR1420041010050500013M02606"}) {
    std::string p = r.pseudonym("IBAN", iban);
    INFO(iban << " -> " << p);
    std::string compact;
    for (char ch : p)
      if (ch != ' ') compact += ch;
    CHECK(iban_valid(compact));
    CHECK(p.substr(0, 2) == std::string(iban).substr(0, 2));
    CHECK(p.size() == std::string(iban).size());
  }
  std::string e = r.pseudonym("EMAIL", "jane.doe@acme.io");
  CHECK(e.find('@') != std::string::npos);
  CHECK(e.find("acme") == std::string::npos);
  std::string ph = r.pseudonym("PHONE", "+1 (415) 555-0132");
  CHECK(ph.size() == std::string("+1 (415) 555-0132").size());
  CHECK(ph.substr(0, 4) == "+1 (");
  CHECK(r.pseudonym("SSN", "536-22-8417")[0] == '9');  // area 9xx is never issued
  CHECK(r.pseudonym("SECRET", "ghp_4fT9kQ2mXv8LpR6sN1wZ3yB7cD5eH0jK2lMn").rfind("ghp_", 0) == 0);
  CHECK(r.pseudonym("IP", "192.0.2.146").rfind("203.0.113.", 0) == 0);
  ScrubKey other = k;
  other[0] ^= 1;
  CHECK(Replacer(other).pseudonym("EMAIL", "jane.doe@acme.io") != e);  // keyed: another key, other stand-ins
  CHECK(r.replace(Replacement::mask, "EMAIL", "jane.doe@acme.io") == "<EMAIL>");
  CHECK_THAT(r.replace(Replacement::hash, "EMAIL", "jane.doe@acme.io"), Catch::Matches("<EMAIL:[0-9a-f]{8}>"));
}

TEST_CASE("scrub drops what must not be learned, with the reason counted", "[scrub]") {
  Run run;
  auto line = [](json resp, json extra = json::object()) {
    json l = {{"request", {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "please help me with this order question"}}}}}},
              {"response", resp}};
    for (auto it = extra.begin(); it != extra.end(); ++it) l[it.key()] = it.value();
    return l.dump() + "\n";
  };
  auto choice = [](json msg, const char* finish) {
    return json{{"choices", {{{"index", 0}, {"message", msg}, {"finish_reason", finish}}}}};
  };
  std::string logs = line(choice({{"role", "assistant"}, {"content", "Here is the answer you need."}}, "stop")) +
                     line(json{{"error", {{"message", "rate limited"}}}}) +
                     line(choice({{"role", "assistant"}, {"content", "cut off in the midd"}}, "length")) +
                     line(choice({{"role", "assistant"}, {"content", "   "}}, "stop")) +
                     line(choice({{"role", "assistant"}, {"content", nullptr}, {"tool_calls", {{{"id", "x"}, {"type", "function"}, {"function", {{"name", "f"}, {"arguments", "{broken"}}}}}}}, "tool_calls"));
  run.collect(logs);
  json s = run.scrub();
  CHECK(s["out"] == 1);
  CHECK(s["dropped"] == json{{"failed call", 1}, {"truncated response", 1}, {"empty response", 1},
                             {"tool call arguments are not a JSON object", 1}});
  CHECK(manifest_read(run.t / "scrub").accounting.balanced());
}

TEST_CASE("entity policy drop removes the whole record, mask needs no key, pseudonyms need one", "[scrub]") {
  Run run;
  run.collect(call_line(1) + "\n");
  run.c.scrub.entity_replacement = {{"secret", "drop"}};
  json s = run.scrub("dropped");
  CHECK(s["out"] == 0);
  CHECK(s["dropped"].begin().key().rfind("pii: SECRET", 0) == 0);

  run.c.scrub.entity_replacement.clear();
  run.c.scrub.key_env = "SLMIFY_TEST_NO_SUCH_KEY";
  Error e = slmify_test::expect_error([&] { run.scrub("nokey"); });
  CHECK(e.code() == ExitCode::usage);
  CHECK_THAT(std::string(e.what()), Catch::Contains("key"));
  CHECK_FALSE(fs::exists(run.t / "nokey"));
  run.c.scrub.replacement = "mask";
  CHECK(run.scrub("masked")["out"] == 1);
  CHECK(all_output_text(run.t / "masked").find("<CARD>") != std::string::npos);
}

TEST_CASE("near-duplicate detection agrees with brute-force Jaccard of the same shingles", "[scrub][dedup]") {
  // Records whose user text differs by a few words: MinHash decides like the exact Jaccard,
  // except within a small band around the threshold where the estimate may go either way.
  std::vector<json> recs;
  std::string base = "please check the delivery status of order number one two three four five six seven eight nine ten "
                     "eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty";
  std::vector<std::string> words;
  for (size_t i = 0, j; i < base.size(); i = j + 1) {
    j = base.find(' ', i);
    if (j == std::string::npos) j = base.size();
    words.push_back(base.substr(i, j - i));
  }
  for (int v = 0; v < 40; ++v) {
    std::vector<std::string> w = words;
    for (int c = 0; c < v % 8; ++c) w[(v * 7 + c * 5) % w.size()] = "changed" + std::to_string(v) + "x" + std::to_string(c);
    std::string text;
    for (auto& x : w) text += (text.empty() ? "" : " ") + x;
    recs.push_back({{"request", {{"messages", {{{"role", "user"}, {"content", text}}}}}}, {"response", {{"content", "ok"}}}});
  }
  Deduper d("near", 0.8, 3, 1);
  std::vector<std::vector<uint64_t>> kept;
  int agree = 0, decided = 0;
  for (const json& r : recs) {
    auto sh = dedup_shingles(dedup_text(r), 3);
    double best = 0;
    for (auto& k : kept) {
      std::vector<uint64_t> inter;
      std::set_intersection(sh.begin(), sh.end(), k.begin(), k.end(), std::back_inserter(inter));
      double jac = double(inter.size()) / double(sh.size() + k.size() - inter.size());
      best = std::max(best, jac);
    }
    std::string verdict = d.check(r);
    bool near = verdict == "near-duplicate" || verdict == "duplicate";
    if (!near) kept.push_back(sh);
    if (best > 0.9 || best < 0.7) {  // clear cases must be decided like the exact Jaccard
      ++decided;
      agree += near == (best >= 0.8);
    }
  }
  CHECK(decided > 20);
  CHECK(agree == decided);
  // The system prompt does not count: two calls that differ only there are duplicates.
  json a = recs[0], b = recs[0];
  a["request"]["messages"].insert(a["request"]["messages"].begin(), json{{"role", "system"}, {"content", "A long shared prompt."}});
  b["request"]["messages"].insert(b["request"]["messages"].begin(), json{{"role", "system"}, {"content", "Another prompt."}});
  Deduper e("exact", 0.9, 5, 0);
  CHECK(e.check(a).empty());
  CHECK(e.check(b) == "duplicate");
}
