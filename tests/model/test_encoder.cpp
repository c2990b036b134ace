// The sentence encoder against transformers: tests/reference/encoder_reference.py runs AutoTokenizer
// and AutoModel on all-MiniLM-L6-v2 with mean pooling and F.normalize (and checks that against
// sentence-transformers); ids must be equal, fp32 embeddings within 1e-5, bf16 close in cosine.
// Also a random BERT in BertForMaskedLM's layout, batching invariance, the errors, and the speed
// on quick-start-like texts.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <iostream>

#include "../core/test_util.h"
#include "minilm_dir.h"
#include "model/encoder.h"

using namespace slmify;
using namespace slmify_test;

namespace {

const json& reference() {
  static const json j = [] {
    minilm_dir();  // fails with the install command when the package is missing
    return json::parse(read_bytes(python_reference_dir("encoder_reference.py") / "expected.json"));
  }();
  return j;
}

Encoder& encoder(const std::string& dtype) {
  static std::map<std::string, std::unique_ptr<Encoder>> cache;
  auto& e = cache[dtype];
  if (!e) e = encoder_load(minilm_dir(), {.device = "cpu", .dtype = dtype});
  return *e;
}

std::vector<std::string> texts() { return reference()["texts"].get<std::vector<std::string>>(); }

double row_dot(const std::vector<float>& a, size_t i, const std::vector<float>& b, size_t j, size_t dim) {
  double s = 0;
  for (size_t k = 0; k < dim; ++k) s += double(a[i * dim + k]) * double(b[j * dim + k]);
  return s;
}

std::vector<float> flatten(const json& rows) {
  std::vector<float> out;
  for (const json& r : rows)
    for (const json& v : r) out.push_back(v.get<float>());
  return out;
}

}  // namespace

TEST_CASE("encoder: token ids equal transformers' tokenizer, truncated at 256", "[model][torch][python][encoder][slow]") {
  Encoder& e = encoder("fp32");
  CHECK(e.max_tokens() == 256);
  CHECK(encoder_dim(e) == 384);
  std::vector<std::string> t = texts();
  const json& ids = reference()["ids"];
  REQUIRE(ids.size() == t.size());
  bool truncated = false;
  for (size_t i = 0; i < t.size(); ++i) {
    INFO(json(t[i]).dump());
    TokenIds got = encoder_tokenize(e, t[i]);
    CHECK(got == ids[i].get<TokenIds>());
    truncated |= got.size() == 256;
  }
  CHECK(truncated);  // the long text exercises truncation
  CHECK(encoder_tokenize(e, "a b c d e f", 4) == TokenIds{101, 1037, 1038, 102});
}

TEST_CASE("encoder: fp32 embeddings equal transformers within 1e-5 in any batching", "[model][torch][python][encoder][slow]") {
  Encoder& e = encoder("fp32");
  std::vector<std::string> t = texts();
  std::vector<float> want = flatten(reference()["embeddings"]);
  const size_t dim = 384;
  for (int batch : {1, 3, 64}) {
    std::vector<float> got = encoder_embed(e, t, batch);
    REQUIRE(got.size() == want.size());
    double max_diff = 0;
    for (size_t k = 0; k < got.size(); ++k) max_diff = std::max(max_diff, double(std::abs(got[k] - want[k])));
    INFO("batch " << batch << ": max |diff| " << max_diff);
    CHECK(max_diff <= 1e-5);
    for (size_t i = 0; i < t.size(); ++i) CHECK(std::abs(row_dot(got, i, got, i, dim) - 1.0) < 1e-5);
  }
  CHECK(encoder_embed(e, {}, 8).empty());
}

TEST_CASE("encoder: a random BERT saved with the bert. prefix and other sizes equals transformers", "[model][torch][python][encoder][slow]") {
  fs::path dir = python_reference_dir("encoder_reference.py") / "tiny_bert";
  auto e = encoder_load(dir, {.device = "cpu", .dtype = "fp32"});
  CHECK(e->dim() == 48);
  CHECK(e->max_tokens() == 40);  // no sentence_bert_config.json: max_position_embeddings
  std::vector<float> got = encoder_embed(*e, texts(), 5), want = flatten(reference()["tiny_embeddings"]);
  REQUIRE(got.size() == want.size());
  double max_diff = 0;
  for (size_t k = 0; k < got.size(); ++k) max_diff = std::max(max_diff, double(std::abs(got[k] - want[k])));
  INFO("max |diff| " << max_diff);
  CHECK(max_diff <= 1e-5);
}

TEST_CASE("encoder: bf16 embeddings stay within cosine 0.999 of fp32", "[model][torch][python][encoder][slow]") {
  Encoder& e = encoder("bf16");
  CHECK(e.dtype() == "bf16");
  std::vector<std::string> t = texts();
  std::vector<float> got = encoder_embed(e, t, 8);
  std::vector<float> fp32 = flatten(reference()["embeddings"]), bf16 = flatten(reference()["embeddings_bf16"]);
  double worst = 1, worst_ref = 1;
  for (size_t i = 0; i < t.size(); ++i) {
    worst = std::min(worst, row_dot(got, i, fp32, i, 384));
    worst_ref = std::min(worst_ref, row_dot(bf16, i, fp32, i, 384));
  }
  INFO("cosine to fp32: slmify bf16 " << worst << ", transformers bf16 " << worst_ref);
  CHECK(worst >= 0.999);
}

TEST_CASE("encoder: unsupported directories and arguments are errors naming the file", "[model][torch][encoder]") {
  TempDir d;
  Error none = expect_error([&] { encoder_load(d / "nope"); });
  CHECK(none.code() == ExitCode::io);
  write_bytes(d / "config.json", R"({"model_type": "llama", "hidden_size": 64})");
  Error llama = expect_error([&] { encoder_load(d.path()); });
  CHECK(llama.code() == ExitCode::usage);
  CHECK_THAT(llama.what(), Catch::Contains("config.json model_type") && Catch::Contains("bert"));

  write_bytes(d / "config.json", read_bytes(minilm_dir() / "config.json"));
  fs::create_directories(d / "1_Pooling");
  write_bytes(d / "1_Pooling" / "config.json", R"({"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false})");
  Error cls = expect_error([&] { encoder_load(d.path()); });
  CHECK(cls.code() == ExitCode::usage);
  CHECK_THAT(cls.what(), Catch::Contains("pooling_mode_cls_token") && Catch::Contains("mean pooling"));

  Error big = expect_error([&] { encoder_embed(encoder("fp32"), {"x"}, 8, 1000); });
  CHECK(big.code() == ExitCode::usage);
  CHECK_THAT(big.what(), Catch::Contains("max_tokens") && Catch::Contains("512"));
}

TEST_CASE("encoder: 256 quick-start-like texts in batches of 32 equal each text alone", "[model][torch][python][encoder][slow]") {
  // Support tickets and tool requests of 20-120 words, like the quick start's logged calls.
  const std::vector<std::string> parts = {
      "My order KO-", " arrived with a broken zipper on the tent and I would like a replacement.",
      " Please route this ticket to the right queue and set a priority.",
      " The customer asks where the parcel is; tracking has not moved for five days.",
      " Extract the order number, product and requested action as JSON.",
      " Write a short apology email offering a refund or an exchange.",
      " Which hiking boots under 150 euros are waterproof and come in size 44?"};
  std::vector<std::string> t;
  for (int i = 0; i < 256; ++i) {
    std::string s = parts[0] + std::to_string(1000 + i);
    for (int k = 0; k < 1 + i % 8; ++k) s += parts[1 + size_t(i + k) % (parts.size() - 1)];
    t.push_back(s);
  }
  // Batches of texts of very different lengths (padding, masking) against one text at a time;
  // the embeddings are unit vectors, so the bound is relative to their scale. Throughput is
  // measured by scripts/bench (bench_model), not here.
  Encoder& e = encoder("fp32");
  std::vector<float> batched = encoder_embed(e, t, 32);
  REQUIRE(batched.size() == t.size() * 384);
  double worst = 0;
  for (size_t i = 0; i < t.size(); i += 15) {
    std::vector<float> one = encoder_embed(e, {t[i]}, 1);
    for (size_t k = 0; k < 384; ++k) worst = std::max(worst, double(std::abs(one[k] - batched[i * 384 + k])));
  }
  INFO("max |batched - alone| " << worst);
  CHECK(worst < 1e-4);
}
