// GGUF files (llama.cpp's model format, versions 2 and 3), without torch: a memory-mapped reader
// that checks every count, length and offset against the file before using it (gguf.cpp), the
// dequantisation of the common tensor types to float (gguf_dequant.cpp), and `slmify model import`,
// which turns a GGUF file into a Hugging Face model directory (gguf_import.cpp, gguf_tokenizer.cpp).
// Tested by tests/model/test_gguf.cpp against the Python gguf package and transformers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace slmify {

/// Metadata value types, numbered as in the file.
enum class GgufValueType : uint32_t {
  uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, boolean = 7,
  string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12,
};
const char* gguf_value_type_name(GgufValueType t);  ///< "UINT32", "ARRAY", …

/// One metadata value. Integers of every width are held in `i` (uint64 values above INT64_MAX in
/// `u` too), floats in `f`, booleans in `i` (0/1). Arrays of strings or arrays hold their elements
/// in `items`; arrays of numbers and booleans keep the file's bytes in `raw` (so a large array costs
/// what it takes in the file, not a GgufValue per element): read them with count() and at().
struct GgufValue {
  GgufValueType type = GgufValueType::uint8;
  GgufValueType elem_type = GgufValueType::uint8;  ///< arrays: the type of every element
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0;
  std::string s;
  std::vector<GgufValue> items;
  std::string raw;

  bool is_integer() const;
  size_t count() const;          ///< number of elements of an array
  GgufValue at(size_t k) const;  ///< element k of an array
  /// The value as the JSON of its contents (numbers, strings, nested lists); for tests and messages.
  nlohmann::json to_json() const;
};

/// What slmify knows about a ggml tensor type: name, elements per block, bytes per block.
struct GgmlTypeInfo {
  uint32_t id;
  const char* name;
  uint32_t block_size;
  uint32_t type_size;
  bool dequantize;  ///< ggml_dequantize() handles it
};
/// The type with this id, or nullptr for ids the format does not define.
const GgmlTypeInfo* ggml_type_info(uint32_t id);
std::string ggml_type_name(uint32_t id);  ///< "Q4_K", or "unknown type 99"
/// The names of the types ggml_dequantize() handles, comma-separated, for messages and docs.
std::string ggml_dequantize_supported();

/// Dequantises `dst.size()` elements of type `type` from `src` (exactly the bytes they take).
/// A type it does not handle is a usage Error naming the type; sizes that disagree are bugs.
void ggml_dequantize(uint32_t type, std::span<const std::byte> src, std::span<float> dst);
/// IEEE half / bfloat16 bits to float, exactly.
float f16_to_f32(uint16_t h);
float bf16_to_f32(uint16_t h);

struct GgufTensorInfo {
  std::string name;
  uint32_t type = 0;          ///< ggml type id (ggml_type_info)
  std::vector<int64_t> dims;  ///< as in the file: dims[0] varies fastest (the row-major shape reversed)
  uint64_t offset = 0;        ///< from the start of the data section
  uint64_t bytes = 0;         ///< what the elements take in this type
  int64_t numel() const;
  std::vector<int64_t> shape() const;  ///< row-major shape, as PyTorch and safetensors write it
};

/// One GGUF file, memory-mapped read-only. Opening validates everything (see docs/models.md):
/// magic, version 2 or 3, every count and length bounded by the bytes left, known value and tensor
/// types, at most 4 dims, general.alignment a power of two, tensor data aligned, inside the file and
/// not overlapping. A malformed file is a bad_data Error giving the byte offset and what was expected.
class GgufFile {
 public:
  explicit GgufFile(const std::filesystem::path& path);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  ///< absolute offset of the data section
  uint64_t file_size() const { return map_size_; }
  /// Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* find(const std::string& key) const;
  /// Tensors in file order.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* tensor(const std::string& name) const;
  std::span<const std::byte> bytes(const GgufTensorInfo& t) const;
  /// The tensor as floats, row-major (a usage Error for types ggml_dequantize() does not handle).
  std::vector<float> dequantize(const GgufTensorInfo& t) const;

 private:
  void parse();
  std::filesystem::path path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t> meta_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

/// `slmify model import`: a GGUF file to a Hugging Face model directory.
struct GgufImportOptions {
  std::filesystem::path input;   ///< the .gguf file
  std::filesystem::path output;  ///< the model directory to create
  std::string dtype = "fp32";    ///< fp32 (dequantised values exactly) or bf16 (half the size, rounded)
  bool force = false;            ///< replace `output` if it exists
};

/// Writes config.json, model.safetensors, tokenizer.json, tokenizer_config.json,
/// special_tokens_map.json and generation_config.json into a temporary sibling of `output`, then
/// renames it into place. Architectures other than llama and qwen2, tokenizers other than gpt2 and
/// llama, and tensor types ggml_dequantize() does not handle are usage Errors naming them.
/// Returns a summary (architecture, parameters, tensor types, tokenizer, seconds).
nlohmann::json gguf_import(const GgufImportOptions& options);

/// `path` itself, unless it is a .gguf file: then the directory it was imported into, once, under
/// $XDG_CACHE_HOME/slmify/gguf/<sha256 of the file>/ (~/.cache/... when unset).
std::filesystem::path resolve_model_path(const std::filesystem::path& path);

/// The tokenizer files of an HF model directory made from `gguf`'s tokenizer.* metadata
/// (gguf_tokenizer.cpp): tokenizer.json and, for sentencepiece vocabularies, tokenizer.model;
/// tokenizer_config.json; special_tokens_map.json. Returns bos/eos/pad ids for config.json.
struct GgufTokenizerIds {
  std::optional<int64_t> bos, eos, pad;
  int64_t vocab_size = 0;
  std::string kind;  ///< "gpt2 (pre-tokenizer smollm)", "llama"
};
GgufTokenizerIds gguf_write_tokenizer(const GgufFile& gguf, const std::filesystem::path& dir);

}  // namespace slmify
