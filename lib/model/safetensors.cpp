// safetensors reading (mmap, strict header checks) and writing (aligned, atomic).
#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fsutil.h"

namespace slmify {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct DTypeRow {
  DType type;
  const char* name;
  size_t size;
};
constexpr DTypeRow kDTypes[] = {{DType::f32, "F32", 4}, {DType::f16, "F16", 2}, {DType::bf16, "BF16", 2},
                                {DType::i64, "I64", 8}, {DType::i32, "I32", 4}, {DType::u8, "U8", 1},
                                {DType::boolean, "BOOL", 1}};
constexpr uint64_t kMaxHeader = 100'000'000;  // the reference reader's limit

[[noreturn]] void bad_file(const fs::path& p, const std::string& what) {
  throw_bad_data(p.string(), what, "the file is not a valid safetensors file: re-save it with safetensors or transformers' save_pretrained, or download it again");
}

}  // namespace

const char* dtype_name(DType t) {
  for (const auto& r : kDTypes)
    if (r.type == t) return r.name;
  return "?";
}
size_t dtype_size(DType t) {
  for (const auto& r : kDTypes)
    if (r.type == t) return r.size;
  return 0;
}
bool dtype_parse(const std::string& name, DType& out) {
  for (const auto& r : kDTypes)
    if (name == r.name) {
      out = r.type;
      return true;
    }
  return false;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsFile::SafetensorsFile(const fs::path& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("open", path.string(), errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    throw_errno("stat", path.string(), e);
  }
  map_size_ = static_cast<size_t>(st.st_size);
  if (map_size_ < 8) {
    ::close(fd);
    bad_file(path, "file is " + std::to_string(map_size_) + " bytes, shorter than the 8-byte header length");
  }
  map_ = ::mmap(nullptr, map_size_, PROT_READ, MAP_PRIVATE, fd, 0);
  int e = errno;
  ::close(fd);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    throw_errno("mmap", path.string(), e);
  }
  const auto* base = static_cast<const std::byte*>(map_);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | std::to_integer<uint64_t>(base[i]);  // little-endian u64
  if (n > kMaxHeader) bad_file(path, "header length " + std::to_string(n) + " exceeds the format's limit of 100000000 bytes");
  if (8 + n > map_size_)
    bad_file(path, "header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(map_size_) + " bytes): the file is truncated");
  data_ = base + 8 + n;
  const uint64_t data_len = map_size_ - 8 - n;
  json header;
  try {
    header = json::parse(std::string_view(reinterpret_cast<const char*>(base + 8), n));
  } catch (const json::exception& ex) {
    bad_file(path, std::string("header is not valid JSON: ") + ex.what());
  }
  if (!header.is_object()) bad_file(path, "header is not a JSON object");
  std::vector<const TensorInfo*> order;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) bad_file(path, "__metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) bad_file(path, "__metadata__." + m.key() + " is not a string");
        metadata_[m.key()] = m->get<std::string>();
      }
      continue;
    }
    const json& v = *it;
    std::string where = "tensor " + it.key();
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      bad_file(path, where + ": needs dtype, shape and data_offsets");
    TensorInfo t;
    t.name = it.key();
    std::string dt = v["dtype"].is_string() ? v["dtype"].get<std::string>() : "";
    if (!dtype_parse(dt, t.dtype))
      throw_bad_data(path.string(), where + ": dtype " + (dt.empty() ? v["dtype"].dump() : dt) + " is not supported",
                     "slmify reads F32, F16, BF16 (and I64, I32, U8, BOOL); convert the checkpoint, e.g. load it in transformers with torch_dtype=torch.bfloat16 and save_pretrained");
    const json& shape = v["shape"];
    const json& off = v["data_offsets"];
    if (!shape.is_array()) bad_file(path, where + ": shape is not an array");
    for (const json& d : shape) {
      if (!d.is_number_unsigned()) bad_file(path, where + ": shape " + shape.dump() + " has a non-integer or negative dimension");
      t.shape.push_back(d.get<int64_t>());
    }
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      bad_file(path, where + ": data_offsets must be [begin, end]");
    t.begin = off[0].get<uint64_t>();
    t.end = off[1].get<uint64_t>();
    if (t.end < t.begin) bad_file(path, where + ": data_offsets end before begin");
    if (t.end - t.begin != uint64_t(t.numel()) * dtype_size(t.dtype))
      bad_file(path, where + ": " + std::to_string(t.end - t.begin) + " bytes but shape " + shape.dump() + " of " + dt +
                         " needs " + std::to_string(uint64_t(t.numel()) * dtype_size(t.dtype)));
    auto [ins, fresh] = tensors_.emplace(t.name, std::move(t));
    if (!fresh) bad_file(path, where + " appears twice");
    order.push_back(&ins->second);
  }
  // The tensors must tile the data buffer exactly.
  std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t at = 0;
  for (const TensorInfo* t : order) {
    if (t->begin != at)
      bad_file(path, "tensor " + t->name + " starts at byte " + std::to_string(t->begin) + " of the data but the previous one ends at " +
                         std::to_string(at) + " (gap or overlap)");
    at = t->end;
  }
  if (at != data_len)
    bad_file(path, "tensors cover " + std::to_string(at) + " bytes but the data buffer has " + std::to_string(data_len) +
                       (at > data_len ? ": the file is truncated" : ": trailing bytes"));
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, map_size_);
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

std::span<const std::byte> SafetensorsFile::bytes(const TensorInfo& t) const {
  return {data_ + t.begin, static_cast<size_t>(t.end - t.begin)};
}

Checkpoint::Checkpoint(const fs::path& dir, const std::string& file) {
  fs::path single = dir / file;
  fs::path index = dir / (file + ".index.json");
  std::vector<fs::path> shards;
  if (fs::exists(index)) {
    json j;
    try {
      j = json::parse(read_file(index));
    } catch (const json::exception& ex) {
      throw_bad_data(index.string(), std::string("not valid JSON: ") + ex.what(), "restore the index from the original checkpoint");
    }
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
      throw_bad_data(index.string(), "has no weight_map object", "restore the index from the original checkpoint");
    std::map<std::string, size_t> shard_of;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it->is_string()) throw_bad_data(index.string(), "weight_map." + it.key() + " is not a file name");
      std::string f = it->get<std::string>();
      if (f.find('/') != std::string::npos || f == "..")
        throw_bad_data(index.string(), "weight_map." + it.key() + " names " + f + ", outside the model directory");
      auto [s, fresh] = shard_of.emplace(f, shards.size());
      if (fresh) shards.push_back(dir / f);
    }
    for (const fs::path& p : shards) {
      if (!fs::exists(p))
        throw_io(p.string(), "shard named in " + index.filename().string() + " is missing", "download or copy every shard of the checkpoint");
      files_.push_back(std::make_unique<SafetensorsFile>(p));
    }
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      size_t i = shard_of.at(it->get<std::string>());
      if (!files_[i]->find(it.key()))
        throw_bad_data(files_[i]->path().string(), "tensor " + it.key() + " is listed in the index but not in this shard",
                       "the shards and the index do not belong together: copy the checkpoint again");
      where_[it.key()] = i;
    }
  } else if (fs::exists(single)) {
    files_.push_back(std::make_unique<SafetensorsFile>(single));
    for (const auto& [name, t] : files_[0]->tensors()) where_[name] = 0;
  } else {
    throw_io(dir.string(), "no " + file + " or " + file + ".index.json",
             fs::exists(dir / "pytorch_model.bin") ? "pytorch_model.bin is not supported: convert it with transformers (save_pretrained(safe_serialization=True))"
                                                   : "point --model at a Hugging Face model directory");
  }
}

const TensorInfo* Checkpoint::find(const std::string& name, const SafetensorsFile** file) const {
  auto it = where_.find(name);
  if (it == where_.end()) return nullptr;
  if (file) *file = files_[it->second].get();
  return files_[it->second]->find(name);
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> v;
  for (const auto& [n, i] : where_) v.push_back(n);
  return v;
}

void safetensors_write(const fs::path& path, const std::vector<TensorData>& tensors, std::map<std::string, std::string> metadata) {
  std::vector<const TensorData*> order;
  for (const TensorData& t : tensors) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    if (t.bytes.size() != uint64_t(n) * dtype_size(t.dtype))
      throw_usage(path.string(), "tensor " + t.name + " has " + std::to_string(t.bytes.size()) + " bytes, its shape needs " +
                                     std::to_string(uint64_t(n) * dtype_size(t.dtype)));
    order.push_back(&t);
  }
  std::sort(order.begin(), order.end(), [](const TensorData* a, const TensorData* b) {
    size_t sa = dtype_size(a->dtype), sb = dtype_size(b->dtype);
    return sa != sb ? sa > sb : a->name < b->name;
  });
  for (size_t i = 1; i < order.size(); ++i)
    if (order[i]->name == order[i - 1]->name && order[i]->dtype == order[i - 1]->dtype)
      throw_usage(path.string(), "tensor " + order[i]->name + " appears twice");
  if (!metadata.count("format")) metadata["format"] = "pt";
  json header = json::object();
  header["__metadata__"] = metadata;
  uint64_t at = 0;
  for (const TensorData* t : order) {
    if (header.contains(t->name)) throw_usage(path.string(), "tensor " + t->name + " appears twice");
    header[t->name] = {{"dtype", dtype_name(t->dtype)}, {"shape", t->shape}, {"data_offsets", {at, at + t->bytes.size()}}};
    at += t->bytes.size();
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  fs::path tmp = path;
  tmp += ".tmp-" + random_suffix();
  try {
    FileSink sink(tmp);
    unsigned char len[8];
    uint64_t n = h.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    sink.write(len, 8);
    sink.write(h);
    for (const TensorData* t : order) sink.write(t->bytes.data(), t->bytes.size());
    sink.finish();
    fs::rename(tmp, path);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  fsync_path(path.parent_path().empty() ? fs::path(".") : path.parent_path());
}

}  // namespace slmify
