// GGUF reading: the header, metadata of every value type (nested arrays included), tensor infos and
// the data section, from a read-only memory map. Every count and length is checked against the bytes
// left before anything is allocated, so a damaged or hostile header fails with the offset at which
// it stopped making sense. Tested by tests/model/test_gguf.cpp (files written by the gguf package,
// truncation at every byte, huge counts, bad magic/version, misaligned and overlapping data).
#include "model/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "core/record.h"

namespace slmify {

namespace fs = std::filesystem;
using json = nlohmann::json;

static_assert(std::endian::native == std::endian::little, "GGUF is read in place as little-endian");

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr int kMaxArrayDepth = 8;         // llama.cpp writes at most arrays of arrays
constexpr uint32_t kMaxDims = 4;          // GGML_MAX_DIMS

// Reads the file front to back; every failure names the byte offset where it happened.
struct Cursor {
  const fs::path& path;
  const unsigned char* base;
  uint64_t size;
  uint64_t pos = 0;

  [[noreturn]] void fail(uint64_t at, const std::string& what) const {
    throw_bad_data(path.string(), "at byte " + std::to_string(at) + ": " + what,
                   "the file is not a valid GGUF file: download it again, or convert the model again with llama.cpp's "
                   "convert_hf_to_gguf.py");
  }
  uint64_t left() const { return size - pos; }
  void need(uint64_t n, const std::string& what) const {
    if (n > left())
      fail(pos, "expected " + what + " (" + std::to_string(n) + " bytes), but the file ends at byte " + std::to_string(size));
  }
  template <class T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, base + pos, sizeof v);
    pos += sizeof v;
    return v;
  }
  std::string read_string(const std::string& what) {
    uint64_t at = pos;
    uint64_t n = read<uint64_t>("the length of " + what);
    if (n > left())
      fail(at, "expected " + what + " of " + std::to_string(n) + " bytes, but only " + std::to_string(left()) + " bytes are left");
    std::string s(reinterpret_cast<const char*>(base + pos), n);
    pos += n;
    return s;
  }
};

// The fewest bytes one value of type `t` takes, for bounding array counts before allocating.
uint64_t min_value_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::uint8: case GgufValueType::int8: case GgufValueType::boolean: return 1;
    case GgufValueType::uint16: case GgufValueType::int16: return 2;
    case GgufValueType::uint32: case GgufValueType::int32: case GgufValueType::float32: return 4;
    case GgufValueType::uint64: case GgufValueType::int64: case GgufValueType::float64: return 8;
    case GgufValueType::string: return 8;   // the length
    case GgufValueType::array: return 12;   // element type and count
  }
  return 1;
}

GgufValueType read_type(Cursor& c, const std::string& what) {
  uint64_t at = c.pos;
  uint32_t t = c.read<uint32_t>("the value type of " + what);
  if (t > static_cast<uint32_t>(GgufValueType::float64))
    c.fail(at, "expected a value type 0..12 for " + what + ", got " + std::to_string(t));
  return static_cast<GgufValueType>(t);
}

// A scalar from its little-endian bytes (at least min_value_size(type) of them).
GgufValue scalar(GgufValueType type, const unsigned char* p) {
  GgufValue v;
  v.type = type;
  auto get = [p](auto x) {
    std::memcpy(&x, p, sizeof x);
    return x;
  };
  switch (type) {
    case GgufValueType::uint8: case GgufValueType::boolean: v.i = get(uint8_t{}); break;
    case GgufValueType::int8: v.i = get(int8_t{}); break;
    case GgufValueType::uint16: v.i = get(uint16_t{}); break;
    case GgufValueType::int16: v.i = get(int16_t{}); break;
    case GgufValueType::uint32: v.i = get(uint32_t{}); break;
    case GgufValueType::int32: v.i = get(int32_t{}); break;
    case GgufValueType::uint64: v.u = get(uint64_t{}), v.i = static_cast<int64_t>(v.u); break;
    case GgufValueType::int64: v.i = get(int64_t{}); break;
    case GgufValueType::float32: v.f = get(float{}); break;
    case GgufValueType::float64: v.f = get(double{}); break;
    default: SLMIFY_ASSERT(false, "scalar() of a string or array");
  }
  return v;
}

bool is_scalar(GgufValueType t) { return t != GgufValueType::string && t != GgufValueType::array; }

// Reads `n` scalars of type `type`; booleans must be 0 or 1.
void read_scalars(Cursor& c, GgufValueType type, uint64_t n, const std::string& what, std::string& out) {
  const uint64_t size = min_value_size(type);
  c.need(n * size, what);  // n * size <= bytes left: the caller bounded n
  out.assign(reinterpret_cast<const char*>(c.base + c.pos), n * size);
  if (type == GgufValueType::boolean)
    for (uint64_t k = 0; k < n; ++k)
      if (static_cast<unsigned char>(out[k]) > 1)
        c.fail(c.pos + k, "expected a boolean 0 or 1 for " + what + ", got " + std::to_string(static_cast<unsigned char>(out[k])));
  c.pos += n * size;
}

GgufValue read_value(Cursor& c, GgufValueType type, const std::string& what, int depth) {
  GgufValue v;
  v.type = type;
  if (type == GgufValueType::string) {
    v.s = c.read_string(what);
    return v;
  }
  if (type != GgufValueType::array) {
    std::string bytes;
    read_scalars(c, type, 1, what, bytes);
    return scalar(type, reinterpret_cast<const unsigned char*>(bytes.data()));
  }
  uint64_t at = c.pos;
  if (depth >= kMaxArrayDepth) c.fail(at, what + " nests arrays more than " + std::to_string(kMaxArrayDepth) + " deep");
  v.elem_type = read_type(c, "the elements of " + what);
  uint64_t count_at = c.pos;
  uint64_t n = c.read<uint64_t>("the element count of " + what);
  if (n > c.left() / min_value_size(v.elem_type))
    c.fail(count_at, what + " claims " + std::to_string(n) + " elements of type " + gguf_value_type_name(v.elem_type) +
                         ", more than the " + std::to_string(c.left()) + " bytes left can hold");
  if (is_scalar(v.elem_type)) {
    read_scalars(c, v.elem_type, n, what, v.raw);
    return v;
  }
  v.items.reserve(n);
  for (uint64_t k = 0; k < n; ++k) v.items.push_back(read_value(c, v.elem_type, what + "[" + std::to_string(k) + "]", depth + 1));
  return v;
}

}  // namespace

const char* gguf_value_type_name(GgufValueType t) {
  static const char* const names[] = {"UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
                                      "BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64"};
  auto k = static_cast<uint32_t>(t);
  return k < std::size(names) ? names[k] : "?";
}

bool GgufValue::is_integer() const {
  return type != GgufValueType::float32 && type != GgufValueType::float64 && type != GgufValueType::string &&
         type != GgufValueType::array && type != GgufValueType::boolean;
}

size_t GgufValue::count() const { return is_scalar(elem_type) ? raw.size() / min_value_size(elem_type) : items.size(); }

GgufValue GgufValue::at(size_t k) const {
  SLMIFY_ASSERT(type == GgufValueType::array && k < count(), "GgufValue::at out of range");
  if (!is_scalar(elem_type)) return items[k];
  return scalar(elem_type, reinterpret_cast<const unsigned char*>(raw.data()) + k * min_value_size(elem_type));
}

json GgufValue::to_json() const {
  switch (type) {
    case GgufValueType::uint64: return u;
    case GgufValueType::float32: case GgufValueType::float64: return f;
    case GgufValueType::boolean: return i != 0;
    case GgufValueType::string: return utf8_valid(s) ? s : utf8_repair(s);  // JSON holds UTF-8 only
    case GgufValueType::array: {
      json a = json::array();
      for (size_t k = 0; k < count(); ++k) a.push_back(at(k).to_json());
      return a;
    }
    default: return i;
  }
}

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

std::vector<int64_t> GgufTensorInfo::shape() const { return {dims.rbegin(), dims.rend()}; }

GgufFile::GgufFile(const fs::path& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("open", path.string(), errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    throw_errno("stat", path.string(), e);
  }
  map_size_ = static_cast<size_t>(st.st_size);
  if (map_size_ > 0) {
    map_ = ::mmap(nullptr, map_size_, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    ::close(fd);
    if (map_ == MAP_FAILED) {
      map_ = nullptr;
      throw_errno("mmap", path.string(), e);
    }
  } else {
    ::close(fd);
  }
  try {
    parse();
  } catch (...) {
    if (map_) ::munmap(map_, map_size_);
    map_ = nullptr;
    throw;
  }
}

GgufFile::~GgufFile() {
  if (map_) ::munmap(map_, map_size_);
}

void GgufFile::parse() {
  Cursor c{path_, static_cast<const unsigned char*>(map_), map_size_};
  uint32_t magic = c.read<uint32_t>("the magic \"GGUF\"");
  if (magic != kMagic) {
    std::string got(reinterpret_cast<const char*>(c.base), 4);
    for (char& ch : got) if (static_cast<unsigned char>(ch) < 32 || static_cast<unsigned char>(ch) > 126) ch = '?';
    c.fail(0, "expected the magic \"GGUF\", got \"" + got + "\": this is not a GGUF file");
  }
  version_ = c.read<uint32_t>("the format version");
  if (version_ == 0x02000000 || version_ == 0x03000000)
    c.fail(4, "this is a big-endian GGUF file; slmify reads little-endian GGUF only (the usual kind)");
  if (version_ == 1)
    c.fail(4, "GGUF version 1 (32-bit counts) is not supported; convert the model again with a current llama.cpp");
  if (version_ != 2 && version_ != 3) c.fail(4, "expected format version 2 or 3, got " + std::to_string(version_));
  uint64_t n_tensors_at = c.pos;
  uint64_t n_tensors = c.read<uint64_t>("the tensor count");
  uint64_t n_kv_at = c.pos;
  uint64_t n_kv = c.read<uint64_t>("the metadata count");
  // A metadata entry takes at least 13 bytes (key length, type, a 1-byte value), a tensor info 24
  // (name length, dim count, type, offset).
  if (n_kv > c.left() / 13)
    c.fail(n_kv_at, "the header claims " + std::to_string(n_kv) + " metadata entries, more than the file can hold");
  if (n_tensors > c.left() / 24)
    c.fail(n_tensors_at, "the header claims " + std::to_string(n_tensors) + " tensors, more than the file can hold");

  metadata_.reserve(n_kv);
  for (uint64_t k = 0; k < n_kv; ++k) {
    uint64_t at = c.pos;
    std::string key = c.read_string("metadata key " + std::to_string(k));
    if (meta_index_.count(key)) c.fail(at, "metadata key \"" + key + "\" appears twice");
    GgufValueType type = read_type(c, key);
    GgufValue v = read_value(c, type, key, 0);
    meta_index_[key] = metadata_.size();
    metadata_.emplace_back(std::move(key), std::move(v));
  }
  if (const GgufValue* a = find("general.alignment")) {
    if (a->type != GgufValueType::uint32 || a->i == 0 || (a->i & (a->i - 1)) != 0)
      c.fail(c.pos, "general.alignment must be a UINT32 power of two, got " + a->to_json().dump() + " (" +
                        gguf_value_type_name(a->type) + ")");
    alignment_ = static_cast<uint64_t>(a->i);
  }

  tensors_.reserve(n_tensors);
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensorInfo t;
    uint64_t at = c.pos;
    t.name = c.read_string("the name of tensor " + std::to_string(k));
    if (tensor_index_.count(t.name)) c.fail(at, "tensor \"" + t.name + "\" appears twice");
    uint64_t nd_at = c.pos;
    uint32_t nd = c.read<uint32_t>("the dimension count of " + t.name);
    if (nd > kMaxDims) c.fail(nd_at, "tensor " + t.name + " has " + std::to_string(nd) + " dimensions, at most 4 are allowed");
    int64_t numel = 1;
    for (uint32_t d = 0; d < nd; ++d) {
      uint64_t d_at = c.pos;
      uint64_t n = c.read<uint64_t>("dimension " + std::to_string(d) + " of " + t.name);
      if (n > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, static_cast<int64_t>(n), &numel))
        c.fail(d_at, "tensor " + t.name + " has " + std::to_string(n) + " elements along dimension " + std::to_string(d) +
                         ": the element count overflows");
      t.dims.push_back(static_cast<int64_t>(n));
    }
    uint64_t type_at = c.pos;
    t.type = c.read<uint32_t>("the type of " + t.name);
    const GgmlTypeInfo* info = ggml_type_info(t.type);
    if (!info) c.fail(type_at, "tensor " + t.name + " has tensor type " + std::to_string(t.type) + ", which ggml does not define");
    if (!t.dims.empty() && t.dims[0] % info->block_size != 0)
      c.fail(type_at, "tensor " + t.name + " is " + info->name + " (blocks of " + std::to_string(info->block_size) +
                          ") but its first dimension " + std::to_string(t.dims[0]) + " is not a multiple of that");
    t.bytes = static_cast<uint64_t>(numel) / info->block_size * info->type_size;
    if (static_cast<uint64_t>(numel) / info->block_size > UINT64_MAX / info->type_size)
      c.fail(type_at, "tensor " + t.name + " is too large");
    uint64_t off_at = c.pos;
    t.offset = c.read<uint64_t>("the data offset of " + t.name);
    if (t.offset % alignment_ != 0)
      c.fail(off_at, "tensor " + t.name + " starts at data offset " + std::to_string(t.offset) + ", not a multiple of the alignment " +
                         std::to_string(alignment_));
    tensor_index_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }
  data_offset_ = (c.pos + alignment_ - 1) / alignment_ * alignment_;  // c.pos <= file size: no overflow
  if (tensors_.empty()) return;
  if (data_offset_ > c.size)
    c.fail(c.pos, "expected the data section at byte " + std::to_string(data_offset_) + ", but the file ends at byte " + std::to_string(c.size));
  const uint64_t data_size = c.size - data_offset_;
  std::vector<const GgufTensorInfo*> by_offset;
  for (const GgufTensorInfo& t : tensors_) {
    if (t.offset > data_size || t.bytes > data_size - t.offset)
      c.fail(data_offset_ + std::min(t.offset, data_size),
             "expected the " + std::to_string(t.bytes) + " bytes of tensor " + t.name + " at data offset " + std::to_string(t.offset) +
                 ", but the data section ends after " + std::to_string(data_size) + " bytes: the file is truncated");
    by_offset.push_back(&t);
  }
  std::stable_sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const GgufTensorInfo& prev = *by_offset[k - 1];
    const GgufTensorInfo& t = *by_offset[k];
    if (t.offset < prev.offset + prev.bytes && t.bytes > 0 && prev.bytes > 0)
      c.fail(data_offset_ + t.offset, "the data of tensor " + t.name + " (data offset " + std::to_string(t.offset) +
                                          ") overlaps tensor " + prev.name + " (data offset " + std::to_string(prev.offset) +
                                          ", " + std::to_string(prev.bytes) + " bytes)");
  }
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = meta_index_.find(key);
  return it == meta_index_.end() ? nullptr : &metadata_[it->second].second;
}

const GgufTensorInfo* GgufFile::tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const std::byte> GgufFile::bytes(const GgufTensorInfo& t) const {
  return {static_cast<const std::byte*>(map_) + data_offset_ + t.offset, t.bytes};
}

std::vector<float> GgufFile::dequantize(const GgufTensorInfo& t) const {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  ggml_dequantize(t.type, bytes(t), out);
  return out;
}

}  // namespace slmify
