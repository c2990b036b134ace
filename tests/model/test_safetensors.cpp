// safetensors reading and writing against the Python safetensors package (an independent
// implementation): files it writes read back to the same values, files we write load there, a
// written-and-read checkpoint is bit-identical, and every kind of damage is refused by name.
#include <catch2/catch.hpp>

#include <cstring>

#include "../core/test_util.h"
#include "model/hf_config.h"
#include "model/safetensors.h"

using namespace slmify;
using namespace slmify_test;

namespace {

std::string python(const std::string& code) {
  CommandResult r = run_command(shell_quote(python_exe()) + " -c " + shell_quote(code));
  REQUIRE(r.status == 0);
  return r.out;
}

template <class T>
std::vector<T> values(const SafetensorsFile& f, const std::string& name) {
  const TensorInfo* t = f.find(name);
  REQUIRE(t != nullptr);
  auto b = f.bytes(*t);
  std::vector<T> v(b.size() / sizeof(T));
  std::memcpy(v.data(), b.data(), b.size());
  return v;
}

std::span<const std::byte> as_bytes(const auto& v) { return std::as_bytes(std::span(v)); }

}  // namespace

TEST_CASE("files written by Python safetensors read back to the same values", "[model][safetensors][python]") {
  TempDir tmp;
  fs::path p = tmp / "ref.safetensors";
  python("import torch; from safetensors.torch import save_file\n"
         "save_file({'w': torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4,"
         " 'h': torch.tensor([1.5, -2.0, 65504.0], dtype=torch.float16),"
         " 'b': torch.tensor([1.0, -0.5, 3.0e38], dtype=torch.bfloat16),"
         " 'i': torch.tensor([[-7]], dtype=torch.int64), 's': torch.tensor(3.0), 'z': torch.zeros(0, 4)},"
         " '" + p.string() + "', metadata={'format': 'pt', 'note': 'x'})");
  SafetensorsFile f(p);
  CHECK(f.tensors().size() == 6);
  CHECK(f.metadata().at("note") == "x");
  CHECK(f.find("w")->shape == std::vector<int64_t>{2, 3});
  CHECK(values<float>(f, "w") == std::vector<float>{0, 0.25f, 0.5f, 0.75f, 1.0f, 1.25f});
  CHECK(values<uint16_t>(f, "h") == std::vector<uint16_t>{0x3E00, 0xC000, 0x7BFF});  // IEEE half bit patterns
  CHECK(values<uint16_t>(f, "b") == std::vector<uint16_t>{0x3F80, 0xBF00, 0x7F62});  // bf16 = top half of fp32
  CHECK(values<int64_t>(f, "i") == std::vector<int64_t>{-7});
  CHECK(f.find("s")->shape.empty());
  CHECK(f.find("s")->numel() == 1);
  CHECK(f.find("z")->numel() == 0);
  CHECK(f.find("absent") == nullptr);
}

TEST_CASE("files we write load in Python and a write-read-write round trip is bit-identical", "[model][safetensors][python]") {
  TempDir tmp;
  std::vector<float> w = {1, 2, 3, 4, 5, 6};
  std::vector<uint16_t> b = {0x3F80, 0x4000};
  std::vector<int64_t> i = {42};
  safetensors_write(tmp / "a.safetensors", {{"layer.weight", DType::f32, {2, 3}, as_bytes(w)},
                                            {"layer.bias", DType::bf16, {2}, as_bytes(b)},
                                            {"step", DType::i64, {}, as_bytes(i)}});
  std::string out = python("from safetensors import safe_open\n"
                           "f = safe_open('" + (tmp / "a.safetensors").string() + "', 'pt')\n"
                           "print(f.metadata()['format'], f.get_tensor('layer.weight').sum().item(),"
                           " f.get_tensor('layer.bias').float().tolist(), f.get_tensor('step').item())");
  CHECK(out == "pt 21.0 [1.0, 2.0] 42\n");
  // Data aligned to 8 bytes: the header length is a multiple of 8.
  std::string bytes = read_bytes(tmp / "a.safetensors");
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);
  // Read, write again: identical bytes.
  SafetensorsFile f(tmp / "a.safetensors");
  std::vector<TensorData> again;
  for (const auto& [name, t] : f.tensors()) again.push_back({name, t.dtype, t.shape, f.bytes(t)});
  safetensors_write(tmp / "b.safetensors", again, f.metadata());
  CHECK(read_bytes(tmp / "b.safetensors") == bytes);
}

TEST_CASE("damaged safetensors files are refused with the file and the tensor named", "[model][safetensors]") {
  TempDir tmp;
  std::vector<float> w = {1, 2, 3, 4};
  fs::path good = tmp / "good.safetensors";
  safetensors_write(good, {{"w", DType::f32, {2, 2}, as_bytes(w)}});
  const std::string bytes = read_bytes(good);
  auto damaged = [&](const std::string& content) {
    fs::path p = tmp / "bad.safetensors";
    write_bytes(p, content);
    Error e = expect_error([&] { SafetensorsFile f(p); });
    CHECK(e.problems()[0].where.find("bad.safetensors") != std::string::npos);
    return e.problems()[0].what;
  };
  CHECK(damaged(bytes.substr(0, bytes.size() - 3)).find("truncated") != std::string::npos);
  CHECK(damaged(bytes.substr(0, 5)).find("shorter than") != std::string::npos);
  std::string huge = bytes;
  huge[0] = '\xff', huge[1] = '\xff', huge[2] = '\xff', huge[3] = '\x7f';
  CHECK(damaged(huge).find("exceeds") != std::string::npos);
  auto with_header = [](std::string h, const std::string& data) {
    h.append((8 - h.size() % 8) % 8, ' ');
    std::string s(8, '\0');
    uint64_t n = h.size();
    std::memcpy(s.data(), &n, 8);
    return s + h + data;
  };
  std::string data(16, '\0');
  CHECK(damaged(with_header(R"({"w":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})", data)).find("dtype F64 is not supported") != std::string::npos);
  CHECK(damaged(with_header(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", data)).find("needs 12") != std::string::npos);
  CHECK(damaged(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", data))
            .find("gap or overlap") != std::string::npos);
  CHECK(damaged(with_header(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data)).find("trailing") != std::string::npos);
  CHECK(damaged(with_header(R"({"w":)", data)).find("not valid JSON") != std::string::npos);
}

TEST_CASE("sharded checkpoints resolve tensors through the index and name a missing shard", "[model][safetensors]") {
  TempDir tmp;
  std::vector<float> a = {1, 2}, b = {3, 4, 5};
  safetensors_write(tmp / "model-00001-of-00002.safetensors", {{"x", DType::f32, {2}, as_bytes(a)}});
  safetensors_write(tmp / "model-00002-of-00002.safetensors", {{"y", DType::f32, {3}, as_bytes(b)}});
  write_bytes(tmp / "model.safetensors.index.json",
              R"({"metadata":{"total_size":20},"weight_map":{"x":"model-00001-of-00002.safetensors","y":"model-00002-of-00002.safetensors"}})");
  Checkpoint ck(tmp.path());
  const SafetensorsFile* f = nullptr;
  REQUIRE(ck.find("y", &f) != nullptr);
  CHECK(f->path().filename() == "model-00002-of-00002.safetensors");
  CHECK(ck.names() == std::vector<std::string>{"x", "y"});
  fs::remove(tmp / "model-00002-of-00002.safetensors");
  Error e = expect_error([&] { Checkpoint c(tmp.path()); });
  CHECK(e.code() == ExitCode::io);
  CHECK(e.problems()[0].where.find("model-00002-of-00002.safetensors") != std::string::npos);
  TempDir empty;
  CHECK(expect_error([&] { Checkpoint c(empty.path()); }).problems()[0].what.find("no model.safetensors") != std::string::npos);
}

TEST_CASE("config.json of every supported family parses and unsupported ones are refused by name", "[model][config]") {
  json llama = {{"model_type", "llama"}, {"architectures", {"LlamaForCausalLM"}}, {"vocab_size", 100}, {"hidden_size", 64},
                {"intermediate_size", 128}, {"num_hidden_layers", 2}, {"num_attention_heads", 4}, {"num_key_value_heads", 2},
                {"rope_scaling", {{"type", "llama3"}, {"factor", 32.0}, {"original_max_position_embeddings", 8192}}},
                {"rope_theta", 500000.0}, {"tie_word_embeddings", true}, {"eos_token_id", {128001, 128008, 128009}}};
  ModelConfig c = model_config_parse(llama, "config.json");
  CHECK(c.head_dim == 16);
  CHECK(c.rope_scaling.type == "llama3");
  CHECK(c.rope_scaling.factor == 32.0);
  CHECK(c.rope_theta == 500000.0);
  CHECK(c.eos_token_ids == std::vector<int32_t>{128001, 128008, 128009});
  // embed + 2 × (2 norms + q,k,v,o + gate,up,down) + norm, tied: no lm_head
  CHECK(model_param_count(c) == 100 * 64 + 2 * (2 * 64 + 64 * 64 + 2 * 32 * 64 + 64 * 64 + 3 * 128 * 64) + 64);
  json v5 = llama;  // transformers v5 keeps RoPE settings in rope_parameters
  v5.erase("rope_scaling");
  v5.erase("rope_theta");
  v5["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1000000.0}};
  CHECK(model_config_parse(v5, "config.json").rope_theta == 1000000.0);
  json mamba = {{"model_type", "falcon_h1"}, {"architectures", {"FalconH1ForCausalLM"}}};
  Error e = expect_error([&] { model_config_parse(mamba, "m/config.json"); });
  CHECK(e.problems()[0].where == "m/config.json");
  CHECK(e.problems()[0].what.find("falcon_h1") != std::string::npos);
  CHECK(e.problems()[0].hint.find("Qwen2") != std::string::npos);
  json bad = llama;
  bad["num_key_value_heads"] = 3;
  CHECK(expect_error([&] { model_config_parse(bad, "config.json"); }).problems()[0].what.find("multiple") != std::string::npos);
  bad = llama;
  bad.erase("hidden_size");
  CHECK(expect_error([&] { model_config_parse(bad, "config.json"); }).problems()[0].what.find("hidden_size") != std::string::npos);
}
