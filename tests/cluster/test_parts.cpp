// The pieces of the cluster stage: views and output kinds, masking, Drain-style templates, the
// sparse products and orthonormalisation against Eigen's dense ones, and the embedding (seeded,
// fit equals transform, the model file reads back).
#include <catch2/catch.hpp>
#include <random>
#include <set>

#include "../core/test_util.h"
#include "cluster/embed.h"
#include "cluster/linalg.h"
#include "cluster/templates.h"
#include "cluster/view.h"
#include "core/error.h"

using namespace slmify;
using json = nlohmann::json;

TEST_CASE("output kinds: tool call and JSON and code and text", "[cluster][view]") {
  CHECK(output_kind_of({{"content", nullptr}, {"tool_calls", {{{"function", {{"name", "f"}, {"arguments", "{}"}}}}}}}) == OutputKind::tool_call);
  CHECK(output_kind_of({{"content", "{\"a\": 1}"}}) == OutputKind::json);
  CHECK(output_kind_of({{"content", "```json\n[1, 2]\n```"}}) == OutputKind::json);
  CHECK(output_kind_of({{"content", "SELECT a\nFROM t;"}}) == OutputKind::code);
  CHECK(output_kind_of({{"content", "```python\nprint(1)\n```"}}) == OutputKind::code);
  CHECK(output_kind_of({{"content", "Update: your parcel left the warehouse."}}) == OutputKind::text);
  CHECK(output_kind_of({{"content", "{not json"}}) == OutputKind::text);
  CHECK(output_kind_of(json()) == OutputKind::text);
}

TEST_CASE("masking replaces what a template fills in", "[cluster][view]") {
  CHECK(mask_text("Ticket T-204180 from jo@example.org on 2026-11-20: \"my parcel\" costs €219.00") ==
        "Ticket <ID> from <EMAIL> on <NUM>: <Q> costs <NUM>");
  CHECK(mask_text("Call +44 7700 900123 or see https://x.org/a") == "Call <NUM> or see <URL>");
  CHECK(mask_text("don't  touch\n\nit's fine") == "don't touch\n\nit's fine");
  std::string buf;
  std::vector<std::string_view> w;
  word_tokens("Hello, <NUM> Wörld·x snake_case", buf, w);
  CHECK(w == std::vector<std::string_view>{"hello", "<num>", "wörld", "x", "snake_case"});
}

TEST_CASE("templates: filled-in prompts of one template share it and free text becomes <TEXT>", "[cluster][templates]") {
  PromptTemplates t;
  std::vector<std::string> texts;
  const char* names[] = {"Ana Smith", "Ben Okafor", "Chloe Tanaka", "Dev Khan"};
  std::mt19937 rng(5);
  const char* words[] = {"parcel", "jacket", "charged", "tent", "broken", "waiting", "small", "refund", "week", "box", "late",
                         "never", "arrived", "colour", "screen", "boots", "twice", "help", "store", "address", "wrong", "again"};
  auto body = [&](int) {  // free text: random words, 6 to 14 of them
    std::string s;
    int n = 6 + int(rng() % 9);
    for (int w = 0; w < n; ++w) s += std::string(w ? " " : "") + words[rng() % 22];
    return s;
  };
  for (int i = 0; i < 40; ++i)
    texts.push_back(mask_text("Ticket #" + std::to_string(100000 + i * 37) + " from " + names[i % 4] + "\nChannel: " +
                              (i % 2 ? "email" : "web") + "\n\n" + (i % 3 ? "Hi there," : "Hello team,") + "\n" + body(i) + "\n" + body(i + 100)));
  std::vector<std::pair<std::string_view, uint64_t>> in;
  for (const std::string& s : texts) in.push_back({s, 1});
  t.build(in, 40);
  std::set<std::string> seen;
  for (const std::string& s : texts) seen.insert(t.template_of(s));
  INFO(*seen.begin());
  CHECK(seen.size() == 1);
  CHECK_THAT(*seen.begin(), Catch::StartsWith("Ticket #<NUM> from <*> <*>\nChannel: <*>"));
  CHECK_THAT(*seen.begin(), Catch::Contains("<TEXT>"));
  // A new call of the same template, and the miner after a save and load, agree.
  std::string fresh = mask_text("Ticket #999999 from Emma Garcia\nChannel: web\n\nHello team,\nwhere is the refund for my boots 7");
  PromptTemplates back = PromptTemplates::from_json(json::parse(t.to_json().dump()));
  CHECK(t.template_of(fresh) == *seen.begin());
  CHECK(back.template_of(fresh) == *seen.begin());
  CHECK(back.template_of(texts[3]) == *seen.begin());
}

TEST_CASE("sparse products and orthonormalisation match dense Eigen", "[cluster][embed]") {
  Csr a;
  a.rows = 4, a.cols = 5;
  a.ptr = {0, 2, 2, 5, 6};
  a.idx = {0, 3, 1, 2, 4, 3};
  a.val = {1.5f, -2, 0.5f, 3, 1, 4};
  Eigen::MatrixXf dense = Eigen::MatrixXf::Zero(4, 5);
  for (size_t r = 0; r < a.rows; ++r)
    for (size_t e = a.ptr[r]; e < a.ptr[r + 1]; ++e) dense(long(r), a.idx[e]) = a.val[e];
  Mat m = gaussian_matrix(5, 3, 7);
  Mat want = dense * Eigen::MatrixXf(m);
  CHECK((csr_times(a, m) - want).norm() < 1e-5);
  Mat m2 = gaussian_matrix(4, 2, 8);
  CHECK((csr_times(csr_transpose(a), m2) - Mat(dense.transpose() * Eigen::MatrixXf(m2))).norm() < 1e-5);
  CHECK(gaussian_matrix(5, 3, 7) == m);
  CHECK(gaussian_matrix(5, 3, 9) != m);
  Mat big = gaussian_matrix(200, 20, 3);
  Mat q = orthonormalize(big);
  CHECK((q.transpose() * q - Mat::Identity(20, 20)).norm() < 1e-4);
  CHECK((q * (q.transpose() * big) - big).norm() < 1e-3 * big.norm());  // same column space
}

TEST_CASE("the embedding is seeded and transform equals fit and the model file reads back", "[cluster][embed]") {
  Corpus c;
  const char* users[] = {"refund my order please", "where is my parcel", "reset my password", "translate this text to French"};
  for (int i = 0; i < 80; ++i) {
    size_t call = c.begin_call();
    c.add(call, part_system, i % 2 ? "You route tickets." : "You translate.");
    c.add(call, part_last_user, std::string(users[i % 4]) + " " + std::to_string(i % 7));
  }
  EmbedSettings s;
  s.dim = 16;
  s.hash_bits = 14;
  s.seed = 3;
  s.parts[part_system] = s.parts[part_last_user] = true;
  std::vector<float> x1, x2;
  json st;
  Embedder e1 = Embedder::fit(c, s, x1, st);
  Embedder::fit(c, s, x2, st);
  CHECK(x1 == x2);
  REQUIRE(e1.dim() <= 16);
  REQUIRE(x1.size() == 80 * size_t(e1.dim()));
  for (size_t i = 0; i < 80; ++i) {
    double n = 0;
    for (int j = 0; j < e1.dim(); ++j) n += double(x1[i * size_t(e1.dim()) + size_t(j)]) * x1[i * size_t(e1.dim()) + size_t(j)];
    CHECK(n == Approx(1.0).margin(1e-4));
  }
  std::vector<float> t = e1.transform(c);
  for (size_t i = 0; i < t.size(); ++i) REQUIRE(t[i] == Approx(x1[i]).margin(1e-4));
  CHECK(st["explained_variance"].get<double>() > 0.9);  // the 4 x 2 x 7 distinct texts fit in 16 dimensions
  slmify_test::TempDir tmp;
  e1.save(tmp / "e.bin", {{"hello", 1}}, 0600);
  json extra;
  Embedder back = Embedder::load(tmp / "e.bin", extra);
  CHECK(extra["hello"] == 1);
  CHECK(back.transform(c) == t);
  std::string bytes = slmify_test::read_bytes(tmp / "e.bin");
  slmify_test::write_bytes(tmp / "cut.bin", bytes.substr(0, bytes.size() - 9));
  Error err = slmify_test::expect_error([&] { Embedder::load(tmp / "cut.bin", extra); });
  CHECK(err.code() == ExitCode::bad_data);
  CHECK_THAT(err.problems()[0].what, Catch::Contains("bytes of model"));
}
