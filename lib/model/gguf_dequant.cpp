// ggml tensor types: the table of names and block sizes, and dequantisation to float of F32, F16,
// BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K, written from the block layouts. Each
// value is computed with the same float operations in the same order as the reference (d·q, then
// + m or − dmin·m), and this file is compiled without FMA contraction, so results are bit-equal.
// Tested by tests/model/test_gguf.cpp against gguf.quants.dequantize, block by block.
#include <bit>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "model/gguf.h"

namespace slmify {

namespace {

// id, name, elements per block, bytes per block, dequantised here. Ids 4, 5, 31-33 and 36-38 were
// removed from ggml and are unknown.
constexpr GgmlTypeInfo kTypes[] = {
    {0, "F32", 1, 4, true},          {1, "F16", 1, 2, true},         {2, "Q4_0", 32, 18, true},
    {3, "Q4_1", 32, 20, true},       {6, "Q5_0", 32, 22, true},      {7, "Q5_1", 32, 24, true},
    {8, "Q8_0", 32, 34, true},       {9, "Q8_1", 32, 36, false},     {10, "Q2_K", 256, 84, false},
    {11, "Q3_K", 256, 110, false},   {12, "Q4_K", 256, 144, true},   {13, "Q5_K", 256, 176, true},
    {14, "Q6_K", 256, 210, true},    {15, "Q8_K", 256, 292, false},  {16, "IQ2_XXS", 256, 66, false},
    {17, "IQ2_XS", 256, 74, false},  {18, "IQ3_XXS", 256, 98, false}, {19, "IQ1_S", 256, 50, false},
    {20, "IQ4_NL", 32, 18, false},   {21, "IQ3_S", 256, 110, false}, {22, "IQ2_S", 256, 82, false},
    {23, "IQ4_XS", 256, 136, false}, {24, "I8", 1, 1, false},        {25, "I16", 1, 2, false},
    {26, "I32", 1, 4, false},        {27, "I64", 1, 8, false},       {28, "F64", 1, 8, false},
    {29, "IQ1_M", 256, 56, false},   {30, "BF16", 1, 2, true},       {34, "TQ1_0", 256, 54, false},
    {35, "TQ2_0", 256, 66, false},   {39, "MXFP4", 32, 17, false},   {40, "NVFP4", 64, 36, false},
    {41, "Q1_0", 128, 18, false},
};

uint16_t u16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
float half(const unsigned char* p) { return f16_to_f32(u16(p)); }

// Blocks of 32: one f16 scale d (and for the _1 types an f16 offset m), optional 32 high bits qh,
// then 16 bytes of nibbles: element j < 16 is the low nibble of byte j, element j + 16 its high one.
template <bool kHasMin, bool kFiveBit>
void dequant_q4_q5(const unsigned char* b, float* y) {
  const float d = half(b);
  const float m = kHasMin ? half(b + 2) : 0.0f;
  const unsigned char* p = b + (kHasMin ? 4 : 2);
  uint32_t qh = 0;
  if (kFiveBit) {
    std::memcpy(&qh, p, 4);
    p += 4;
  }
  const int offset = kHasMin ? 0 : (kFiveBit ? 16 : 8);
  for (int j = 0; j < 16; ++j) {
    int lo = p[j] & 0x0F, hi = p[j] >> 4;
    if (kFiveBit) {
      lo |= static_cast<int>((qh >> j) & 1) << 4;
      hi |= static_cast<int>((qh >> (j + 16)) & 1) << 4;
    }
    float q0 = static_cast<float>(lo - offset), q1 = static_cast<float>(hi - offset);
    if (kHasMin) {
      y[j] = d * q0 + m;
      y[j + 16] = d * q1 + m;
    } else {
      y[j] = d * q0;
      y[j + 16] = d * q1;
    }
  }
}

void dequant_q8_0(const unsigned char* b, float* y) {
  const float d = half(b);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
}

// The eight 6-bit scales and mins of a Q4_K/Q5_K block, packed in 12 bytes: for sub-block j < 4 the
// low 6 bits of bytes j and j+4; for j >= 4 a nibble of byte j+4 plus the top 2 bits of bytes j-4 / j.
void k_scale_min(const unsigned char* s, int j, int& sc, int& mn) {
  if (j < 4) {
    sc = s[j] & 63;
    mn = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Q4_K (144 bytes) and Q5_K (176): f16 d, f16 dmin, 12 scale bytes, [Q5_K: 32 bytes of high bits],
// 128 bytes of nibbles. 256 elements in 8 sub-blocks of 32; pairs of sub-blocks share 32 nibble
// bytes (low nibbles first); bit k of high-bit byte l belongs to element l of sub-block k.
template <bool kFiveBit>
void dequant_q4k_q5k(const unsigned char* b, float* y) {
  const float d = half(b), dmin = half(b + 2);
  const unsigned char* scales = b + 4;
  const unsigned char* qh = b + 16;
  const unsigned char* qs = b + (kFiveBit ? 48 : 16);
  for (int sub = 0; sub < 8; ++sub) {
    int sc, mn;
    k_scale_min(scales, sub, sc, mn);
    const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(mn);
    const unsigned char* q = qs + 32 * (sub / 2);
    const int shift = (sub % 2) * 4;
    for (int l = 0; l < 32; ++l) {
      int v = (q[l] >> shift) & 0x0F;
      if (kFiveBit) v |= ((qh[l] >> sub) & 1) << 4;
      y[32 * sub + l] = dl * static_cast<float>(v) - ml;
    }
  }
}

// Q6_K (210 bytes): 128 bytes of low nibbles, 64 bytes of 2-bit highs, 16 int8 scales, f16 d.
// Each half of 128 elements is four runs of 32: run r takes nibble (r / 2) of low byte l + 32 (r % 2)
// and bits 2r..2r+1 of high byte l; values are offset by 32; a scale covers 16 elements.
void dequant_q6k(const unsigned char* b, float* y) {
  const unsigned char* ql = b;
  const unsigned char* qh = b + 128;
  const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = half(b + 208);
  for (int h = 0; h < 2; ++h) {
    for (int r = 0; r < 4; ++r) {
      for (int l = 0; l < 32; ++l) {
        int lo = (ql[64 * h + 32 * (r % 2) + l] >> (4 * (r / 2))) & 0x0F;
        int hi = (qh[32 * h + l] >> (2 * r)) & 3;
        int i = 128 * h + 32 * r + l;
        const float dl = d * static_cast<float>(sc[i / 16]);
        y[i] = dl * static_cast<float>((lo | (hi << 4)) - 32);
      }
    }
  }
}

}  // namespace

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  if (exp == 0) {  // zero or subnormal: mant · 2^-24, exact in float
    float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  uint32_t bits = exp == 0x1F ? sign | 0x7F800000u | (mant << 13) : sign | ((exp + 112) << 23) | (mant << 13);
  return std::bit_cast<float>(bits);
}

float bf16_to_f32(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

const GgmlTypeInfo* ggml_type_info(uint32_t id) {
  for (const GgmlTypeInfo& t : kTypes)
    if (t.id == id) return &t;
  return nullptr;
}

std::string ggml_type_name(uint32_t id) {
  const GgmlTypeInfo* t = ggml_type_info(id);
  return t ? t->name : "unknown type " + std::to_string(id);
}

std::string ggml_dequantize_supported() {
  std::string s;
  for (const GgmlTypeInfo& t : kTypes)
    if (t.dequantize) s += (s.empty() ? "" : ", ") + std::string(t.name);
  return s;
}

void ggml_dequantize(uint32_t type, std::span<const std::byte> src, std::span<float> dst) {
  const GgmlTypeInfo* info = ggml_type_info(type);
  if (!info || !info->dequantize)
    throw_usage("tensor type " + ggml_type_name(type), "slmify cannot dequantise this type",
                "supported: " + ggml_dequantize_supported() + "; use a GGUF file quantised with one of these (e.g. Q4_K_M, Q8_0)");
  SLMIFY_ASSERT(dst.size() % info->block_size == 0 && src.size() == dst.size() / info->block_size * info->type_size,
                "ggml_dequantize: " + std::to_string(src.size()) + " bytes for " + std::to_string(dst.size()) + " elements of " + info->name);
  if (dst.empty()) return;  // a tensor of no elements (a zero dimension): src.data() may be null
  const auto* s = reinterpret_cast<const unsigned char*>(src.data());
  float* y = dst.data();
  const size_t n = dst.size(), blocks = n / info->block_size, bs = info->block_size, ts = info->type_size;
  switch (type) {
    case 0: std::memcpy(y, s, n * 4); break;
    case 1: for (size_t i = 0; i < n; ++i) y[i] = f16_to_f32(u16(s + 2 * i)); break;
    case 30: for (size_t i = 0; i < n; ++i) y[i] = bf16_to_f32(u16(s + 2 * i)); break;
    case 2: for (size_t k = 0; k < blocks; ++k) dequant_q4_q5<false, false>(s + k * ts, y + k * bs); break;
    case 3: for (size_t k = 0; k < blocks; ++k) dequant_q4_q5<true, false>(s + k * ts, y + k * bs); break;
    case 6: for (size_t k = 0; k < blocks; ++k) dequant_q4_q5<false, true>(s + k * ts, y + k * bs); break;
    case 7: for (size_t k = 0; k < blocks; ++k) dequant_q4_q5<true, true>(s + k * ts, y + k * bs); break;
    case 8: for (size_t k = 0; k < blocks; ++k) dequant_q8_0(s + k * ts, y + k * bs); break;
    case 12: for (size_t k = 0; k < blocks; ++k) dequant_q4k_q5k<false>(s + k * ts, y + k * bs); break;
    case 13: for (size_t k = 0; k < blocks; ++k) dequant_q4k_q5k<true>(s + k * ts, y + k * bs); break;
    case 14: for (size_t k = 0; k < blocks; ++k) dequant_q6k(s + k * ts, y + k * bs); break;
    default: SLMIFY_ASSERT(false, std::string("no dequantiser for ") + info->name);
  }
}

}  // namespace slmify
