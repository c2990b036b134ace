// The transformer against transformers itself: tiny random models of every supported family are
// built and saved by tests/reference/model_reference.py; slmify loads the same files and must give
// the same logits (fp32: |Δ| ≤ 1e-4; bf16: |Δ| ≤ 0.08 vs transformers' bf16) and the same greedy
// tokens. Also: KV cache = full recomputation, batch = single, PEFT adapters merge like PEFT.
#include <catch2/catch.hpp>

#include <cmath>

#include "../core/test_util.h"
#include "model/model.h"

using namespace slmify;
using namespace slmify_test;

#ifdef SLMIFY_HAVE_TORCH

namespace {

fs::path ref_dir() {
  static fs::path d = python_reference_dir("model_reference.py");
  return d;
}

json expected(const std::string& name) { return json::parse(read_bytes(ref_dir() / name / "expected.json")); }

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// |Δ| relative to the reference's scale (at least 1): logits of random models reach ~10.
float scaled_diff(const std::vector<float>& a, const std::vector<float>& ref) {
  float scale = 1;
  for (float x : ref) scale = std::max(scale, std::fabs(x));
  return max_abs_diff(a, ref) / scale;
}

TokenIds ids_of(const json& e) { return e["ids"].get<TokenIds>(); }

ModelOptions no_tokenizer(const std::string& dtype = "fp32") {
  ModelOptions o;
  o.device = "cpu";
  o.dtype = dtype;
  o.tokenizer = false;
  return o;
}

const std::vector<std::string> kCases = {"llama", "llama3", "mistral", "qwen2", "phi3", "gemma"};

}  // namespace

TEST_CASE("logits and greedy tokens equal transformers for every family in fp32", "[model][torch][python]") {
  for (const std::string& name : kCases) {
    INFO("case " << name);
    json e = expected(name);
    auto m = model_load(ref_dir() / name, no_tokenizer());
    std::vector<float> logits = model_logits(*m, ids_of(e));
    CHECK(max_abs_diff(logits, e["logits_fp32"].get<std::vector<float>>()) <= 1e-4f);
    GenerateOptions g;
    g.max_new_tokens = 12;
    GenerateResult r = model_generate(*m, ids_of(e), g);
    CHECK(r.tokens == e["greedy_fp32"].get<TokenIds>());
  }
}

TEST_CASE("bf16 logits stay within tolerance of transformers' bf16 and of fp32", "[model][torch][python]") {
  for (const std::string& name : kCases) {
    INFO("case " << name);
    json e = expected(name);
    auto m = model_load(ref_dir() / name, no_tokenizer("bf16"));
    CHECK(m->dtype() == "bf16");
    std::vector<float> logits = model_logits(*m, ids_of(e));
    CHECK(max_abs_diff(logits, e["logits_bf16"].get<std::vector<float>>()) <= 0.08f);
    CHECK(max_abs_diff(logits, e["logits_fp32"].get<std::vector<float>>()) <= 0.15f);
  }
}

TEST_CASE("generation with the KV cache equals full recomputation, also when sampling", "[model][torch][python]") {
  for (const std::string& name : {std::string("llama"), std::string("mistral"), std::string("phi3")}) {
    INFO("case " << name);
    json e = expected(name);
    auto m = model_load(ref_dir() / name, no_tokenizer());
    GenerateOptions g;
    g.max_new_tokens = 20;  // mistral: runs past its sliding window of 8
    g.temperature = 0.9;
    g.top_k = 40;
    g.top_p = 0.95;
    g.repetition_penalty = 1.2;
    g.seed = 11;
    GenerateResult cached = model_generate(*m, ids_of(e), g);
    g.use_cache = false;
    GenerateResult full = model_generate(*m, ids_of(e), g);
    CHECK(cached.tokens == full.tokens);
    CHECK(cached.tokens.size() >= 1);
    g.seed = 12;
    g.use_cache = true;
    CHECK(model_generate(*m, ids_of(e), g).tokens != cached.tokens);  // the seed matters
  }
}

TEST_CASE("a left-padded batch generates what each prompt generates alone", "[model][torch][python]") {
  json e = expected("qwen2");
  auto m = model_load(ref_dir() / "qwen2", no_tokenizer());
  TokenIds full = ids_of(e);
  std::vector<TokenIds> prompts = {full, TokenIds(full.begin(), full.begin() + 5), TokenIds(full.begin() + 3, full.begin() + 15)};
  GenerateOptions g;
  g.max_new_tokens = 8;
  g.temperature = 0.7;
  g.seed = 5;
  std::vector<GenerateResult> batch = model_generate_batch(*m, prompts, g);
  REQUIRE(batch.size() == 3);
  for (size_t i = 0; i < prompts.size(); ++i) CHECK(batch[i].tokens == model_generate(*m, prompts[i], g).tokens);
}

TEST_CASE("PEFT LoRA adapters merge to the logits PEFT computes", "[model][torch][python]") {
  for (const std::string& name : {std::string("llama"), std::string("phi3")}) {
    INFO("case " << name);
    json e = expected(name);
    ModelOptions o = no_tokenizer();
    o.adapter = (ref_dir() / (name + "-adapter")).string();
    auto m = model_load(ref_dir() / name, o);
    std::vector<float> logits = model_logits(*m, ids_of(e));
    CHECK(scaled_diff(logits, e["logits_adapter"].get<std::vector<float>>()) <= 1e-4f);  // merged: W + sBA rounds differently
    CHECK(max_abs_diff(logits, e["logits_fp32"].get<std::vector<float>>()) > 1e-2f);  // the adapter does something
    o.merge_adapter = false;  // separate LoRA branches compute what PEFT computes
    auto u = model_load(ref_dir() / name, o);
    CHECK(max_abs_diff(model_logits(*u, ids_of(e)), e["logits_adapter"].get<std::vector<float>>()) <= 1e-4f);
  }
}

TEST_CASE("stop tokens and max_new_tokens end generation with the right reason", "[model][torch][python]") {
  json e = expected("llama");
  auto m = model_load(ref_dir() / "llama", no_tokenizer());
  TokenIds greedy = e["greedy_fp32"].get<TokenIds>();
  GenerateOptions g;
  g.max_new_tokens = 12;
  g.stop_tokens = {greedy[3]};
  GenerateResult r = model_generate(*m, ids_of(e), g);
  auto first = std::find(greedy.begin(), greedy.end(), greedy[3]);
  CHECK(r.tokens == TokenIds(greedy.begin(), first + 1));
  CHECK(r.finish_reason == "stop");
  g.stop_tokens.clear();
  g.max_new_tokens = 4;
  r = model_generate(*m, ids_of(e), g);
  CHECK(r.tokens.size() == 4);
  CHECK(r.finish_reason == "length");
}

#endif  // SLMIFY_HAVE_TORCH
