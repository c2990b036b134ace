// safetensors files and sharded checkpoints, without torch: a memory-mapped reader that enforces
// the format's header rules (docs/models.md), and a writer that aligns data the way the reference
// writer does (header padded with spaces to 8 bytes, tensors by descending dtype size, then name).
// Tested by tests/model/test_safetensors.cpp against files written by the Python safetensors package.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace slmify {

/// The element types slmify reads and writes; the others in the format are refused by name.
enum class DType { f32, f16, bf16, i64, i32, u8, boolean };

const char* dtype_name(DType t);  ///< "F32", "BF16", …
size_t dtype_size(DType t);
/// Parses a safetensors dtype name; false for names slmify does not handle.
bool dtype_parse(const std::string& name, DType& out);

struct TensorInfo {
  std::string name;
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  ///< byte offsets relative to the data buffer
  int64_t numel() const;
};

/// One .safetensors file, memory-mapped read-only. Validation on open: header size, JSON, dtypes,
/// shapes against byte lengths, tensors tiling the data buffer with no gap or overlap.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorInfo* find(const std::string& name) const;
  /// The bytes of a tensor (little-endian, row-major); may be unaligned: copy before typed use.
  std::span<const std::byte> bytes(const TensorInfo& t) const;

 private:
  std::filesystem::path path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  const std::byte* data_ = nullptr;  ///< start of the data buffer
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

/// A model's weights: model.safetensors, or the shards named by model.safetensors.index.json
/// (`file` names another single file and its index, e.g. adapter_model.safetensors).
class Checkpoint {
 public:
  explicit Checkpoint(const std::filesystem::path& model_dir, const std::string& file = "model.safetensors");
  /// The tensor called `name`, or nullptr; `file` receives the file that holds it.
  const TensorInfo* find(const std::string& name, const SafetensorsFile** file = nullptr) const;
  /// Every tensor name, sorted.
  std::vector<std::string> names() const;
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;  ///< tensor name -> index in files_
};

/// A tensor to write: name, dtype, shape and its bytes (numel × dtype_size).
struct TensorData {
  std::string name;
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  std::span<const std::byte> bytes;
};

/// Writes a safetensors file atomically (temporary sibling, fsync, rename). `metadata` always gets
/// "format": "pt" unless it names a format. Throws usage Error on duplicate names or size mismatch.
void safetensors_write(const std::filesystem::path& path, const std::vector<TensorData>& tensors,
                       std::map<std::string, std::string> metadata = {});

}  // namespace slmify
