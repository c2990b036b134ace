// The transformer against transformers itself: tiny random models of every supported family are
// built and saved by tests/reference/model_reference.py; slmify loads the same files and must give
// the same logits (fp32: |Δ| ≤ 1e-4; bf16: |Δ| ≤ 0.08 vs transformers' bf16) and the same greedy
// tokens. Also: KV cache = full recomputation, batch = single, PEFT adapters merge like PEFT.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>

#include "../core/test_util.h"
#include "model/model.h"
#include "model/safetensors.h"

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

// How far each token of `gen` falls below the top logit at its position, teacher-forced after
// `prompt` (0 for an exact greedy continuation); the largest such shortfall.
float greedy_gap(Model& m, const TokenIds& prompt, const TokenIds& gen) {
  if (gen.empty()) return 0;
  TokenIds seq = prompt;
  seq.insert(seq.end(), gen.begin(), gen.end() - 1);
  std::vector<float> logits = model_logits(m, seq);
  const size_t vocab = logits.size() / seq.size();
  float worst = 0;
  for (size_t i = 0; i < gen.size(); ++i) {
    const float* row = logits.data() + (prompt.size() - 1 + i) * vocab;
    worst = std::max(worst, *std::max_element(row, row + vocab) - row[size_t(gen[i])]);
  }
  return worst;
}

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
    // Random tiny models have near-flat logits, where two top logits can lie closer than the two
    // implementations' rounding: each greedy token (transformers' and slmify's own) must be a top
    // logit of slmify's teacher-forced logits within the logits' tolerance, not the same id.
    CHECK(greedy_gap(*m, ids_of(e), e["greedy_fp32"].get<TokenIds>()) <= 2e-4f);
    CHECK(greedy_gap(*m, ids_of(e), r.tokens) <= 1e-4f);
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

TEST_CASE("a batch whose prompts share a prefix computes it once and generates greedy continuations of each prompt",
          "[model][torch][python]") {
  // Five prompts: the same 20-token prefix (a system prompt) and tails of 1 to 9 tokens. The
  // prefix's keys and values are computed once and copied into each row; rows that stop early
  // leave the batch. Each row's tokens must be a greedy continuation of its own prompt,
  // teacher-forced by a full forward pass (top logit within 1e-4), and the rows that run to the
  // length limit must not be cut short by the others leaving.
  json e = expected("llama");
  auto m = model_load(ref_dir() / "llama", no_tokenizer());
  TokenIds base = ids_of(e);
  TokenIds prefix;
  for (int i = 0; i < 20; ++i) prefix.push_back(int32_t(3 + (base[size_t(i) % base.size()] + 13 * i) % 200));
  std::vector<TokenIds> prompts;
  for (int k = 0; k < 5; ++k) {
    TokenIds p = prefix;
    for (int j = 0; j < 1 + 2 * k; ++j) p.push_back(int32_t(3 + (7 * k + 11 * j) % 150));
    prompts.push_back(p);
  }
  GenerateOptions g;
  g.max_new_tokens = 10;
  // Stop tokens: the first tokens rows 0 and 1 generate alone, so that both stop at once and the
  // batch shrinks (it drops finished rows once a quarter of it has finished).
  g.stop_tokens = {model_generate(*m, prompts[0], g).tokens.at(0), model_generate(*m, prompts[1], g).tokens.at(0)};
  std::vector<GenerateResult> batch = model_generate_batch(*m, prompts, g);
  REQUIRE(batch.size() == prompts.size());
  for (size_t i : {0, 1}) {
    CHECK(batch[i].tokens.size() == 1);
    CHECK(batch[i].finish_reason == "stop");
  }
  CHECK(std::count_if(batch.begin(), batch.end(), [](const GenerateResult& r) { return r.finish_reason == "length"; }) >= 1);
  for (size_t i = 0; i < prompts.size(); ++i) {
    INFO("row " << i);
    CHECK(greedy_gap(*m, prompts[i], batch[i].tokens) <= 1e-4f);
    if (batch[i].finish_reason == "length") CHECK(batch[i].tokens.size() == 10);
  }
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

#ifdef SLMIFY_HAVE_TORCH
TEST_CASE("bad checkpoints name the file and the tensor", "[model][torch][python]") {
  TempDir tmp;
  fs::copy(ref_dir() / "llama", tmp / "m");
  const fs::path st = tmp / "m" / "model.safetensors";
  auto rewrite = [&](const std::function<void(std::vector<TensorData>&, std::vector<std::vector<std::byte>>&)>& edit) {
    std::vector<TensorData> tensors;
    std::vector<std::vector<std::byte>> keep;
    {
      SafetensorsFile f(st);
      for (const auto& [name, t] : f.tensors()) {
        auto b = f.bytes(t);
        keep.emplace_back(b.begin(), b.end());
      }
      size_t i = 0;
      for (const auto& [name, t] : f.tensors()) tensors.push_back({name, t.dtype, t.shape, std::span<const std::byte>(keep[i++])});
    }
    edit(tensors, keep);
    safetensors_write(st, tensors);
  };
  // A missing tensor.
  rewrite([](std::vector<TensorData>& t, auto&) {
    std::erase_if(t, [](const TensorData& d) { return d.name == "model.layers.1.mlp.up_proj.weight"; });
  });
  Error e = expect_error([&] { model_load(tmp / "m", no_tokenizer()); });
  CHECK(e.code() == ExitCode::bad_data);
  CHECK(e.problems()[0].what.find("model.layers.1.mlp.up_proj.weight is missing") != std::string::npos);
  CHECK(e.problems()[0].where.find("model.safetensors") != std::string::npos);
  // A tensor of the wrong shape (transposed).
  fs::copy(ref_dir() / "llama" / "model.safetensors", st, fs::copy_options::overwrite_existing);
  rewrite([](std::vector<TensorData>& t, auto&) {
    for (TensorData& d : t)
      if (d.name == "model.layers.0.mlp.down_proj.weight") std::swap(d.shape[0], d.shape[1]);
  });
  e = expect_error([&] { model_load(tmp / "m", no_tokenizer()); });
  CHECK(e.problems()[0].what.find("model.layers.0.mlp.down_proj.weight has shape [96, 64], config.json implies [64, 96]") != std::string::npos);
  // Weights stored as integers.
  fs::copy(ref_dir() / "llama" / "model.safetensors", st, fs::copy_options::overwrite_existing);
  rewrite([](std::vector<TensorData>& t, auto&) {
    for (TensorData& d : t)
      if (d.name == "model.norm.weight") d.dtype = DType::i32;  // same byte count as F32
  });
  e = expect_error([&] { model_load(tmp / "m", no_tokenizer()); });
  CHECK(e.problems()[0].what.find("model.norm.weight has dtype I32") != std::string::npos);
  // An unsupported architecture, and a missing tokenizer.
  fs::copy(ref_dir() / "llama" / "model.safetensors", st, fs::copy_options::overwrite_existing);
  CHECK(expect_error([&] { model_load(tmp / "m", ModelOptions{.device = "cpu"}); }).problems()[0].what.find("tokenizer") != std::string::npos);
  json cfg = json::parse(read_bytes(tmp / "m" / "config.json"));
  cfg["model_type"] = "mamba";
  write_bytes(tmp / "m" / "config.json", cfg.dump());
  e = expect_error([&] { model_load(tmp / "m", no_tokenizer()); });
  CHECK(e.code() == ExitCode::usage);
  CHECK(e.problems()[0].where.find("config.json") != std::string::npos);
  CHECK(e.problems()[0].what.find("architecture mamba") != std::string::npos);
}
#endif  // SLMIFY_HAVE_TORCH
