// Hashed TF-IDF features and their randomised SVD; see embed.h. The matrix of calls is never
// formed: A = R * S, with S the normalised TF-IDF rows of the distinct texts (one row per distinct
// system prompt, user turn, ...) and R the sparse weights that combine a call's parts, so a
// system prompt shared by 20,000 calls is featurised and multiplied once.
// Tested by tests/cluster/test_parts.cpp.
#include "cluster/embed.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cluster/linalg.h"
#include "core/error.h"
#include "core/fsutil.h"

namespace slmify {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxTextBytes = 8192;  // featurise at most this much of one part
constexpr int kPowerIterations = 2;
constexpr int kOversampling = 10;
constexpr char kMagic[8] = {'S', 'L', 'M', 'E', 'M', 'B', '0', '1'};

uint64_t mix64(uint64_t h) {  // splitmix64's finaliser
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

// FNV-1a over the bytes, seeded with the part and the kind of feature, then mixed.
uint64_t feature_hash(int part, char kind, std::string_view a, std::string_view b = {}) {
  uint64_t h = 1469598103934665603ull ^ (static_cast<uint64_t>(part) << 8) ^ static_cast<uint64_t>(kind);
  for (char c : a) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  if (!b.empty()) {
    h = (h ^ 0x1f) * 1099511628211ull;
    for (char c : b) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  }
  return mix64(h);
}

size_t utf8_len(unsigned char c) { return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1; }

// Every feature occurrence of one text, as buckets (unsorted, with repeats).
void featurize(int part, std::string_view text, int hash_bits, std::vector<uint32_t>& out) {
  out.clear();
  const int shift = 64 - hash_bits;
  auto put = [&](uint64_t h) { out.push_back(static_cast<uint32_t>(h >> shift)); };
  if (part == part_template) {  // the template is one feature: calls of one template share it
    if (!text.empty()) put(feature_hash(part, 't', text));
    return;
  }
  if (text.size() > kMaxTextBytes) {
    size_t cut = kMaxTextBytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut);
  }
  std::string buffer, padded;
  std::vector<std::string_view> words;
  word_tokens(text, buffer, words);
  std::vector<size_t> starts;
  for (size_t i = 0; i < words.size(); ++i) {
    put(feature_hash(part, 'w', words[i]));
    if (i > 0) put(feature_hash(part, 'b', words[i - 1], words[i]));
    if (words[i].size() < 4 || words[i].front() == '<') continue;
    padded = " ";
    padded.append(words[i]).push_back(' ');
    starts.clear();
    for (size_t p = 0; p < padded.size(); p += utf8_len(static_cast<unsigned char>(padded[p]))) starts.push_back(p);
    starts.push_back(padded.size());
    for (size_t g = 0; g + 3 < starts.size(); ++g)
      put(feature_hash(part, 'c', std::string_view(padded).substr(starts[g], starts[g + 3] - starts[g])));
  }
}

// The normalised TF-IDF rows of every distinct text, stacked part after part, and the weights
// that make each call's row from its parts' rows.
struct Factors {
  Csr s, r;
};

Factors build_factors(const Corpus& corpus, const EmbedSettings& st, const std::unordered_map<uint32_t, int32_t>& col_of,
                      const std::vector<float>& idf) {
  Factors f;
  f.s.cols = idf.size();
  std::array<size_t, part_count> offset{};
  std::vector<float> norm;  // per stacked text: 0 when it has no feature in the vocabulary
  f.s.ptr.push_back(0);
  for (int p = 0; p < part_count; ++p) {
    offset[static_cast<size_t>(p)] = f.s.rows;
    size_t n = st.parts[static_cast<size_t>(p)] ? corpus.texts(p) : 0;
    std::vector<std::vector<std::pair<int32_t, float>>> rows(n);
#pragma omp parallel for schedule(dynamic, 64)
    for (size_t i = 0; i < n; ++i) {
      std::vector<uint32_t> occ;
      featurize(p, corpus.text(p, i), st.hash_bits, occ);
      std::sort(occ.begin(), occ.end());
      auto& row = rows[i];
      double sum = 0;
      for (size_t a = 0; a < occ.size();) {
        size_t b = a;
        while (b < occ.size() && occ[b] == occ[a]) ++b;
        auto it = col_of.find(occ[a]);
        if (it != col_of.end()) {
          float w = (1.0f + std::log(static_cast<float>(b - a))) * idf[static_cast<size_t>(it->second)];
          row.push_back({it->second, w});
          sum += double(w) * w;
        }
        a = b;
      }
      std::sort(row.begin(), row.end());
      float inv = sum > 0 ? static_cast<float>(1.0 / std::sqrt(sum)) : 0.0f;
      for (auto& e : row) e.second *= inv;
    }
    for (auto& row : rows) {
      for (auto& [c, w] : row) f.s.idx.push_back(c), f.s.val.push_back(w);
      f.s.ptr.push_back(f.s.idx.size());
      norm.push_back(row.empty() ? 0.0f : 1.0f);
      ++f.s.rows;
    }
  }
  f.r.rows = corpus.calls();
  f.r.cols = f.s.rows;
  f.r.ptr.push_back(0);
  for (size_t c = 0; c < corpus.calls(); ++c) {
    double sum = 0;
    size_t begin = f.r.idx.size();
    for (int p = 0; p < part_count; ++p) {
      int32_t t = corpus.of(c, p);
      if (t < 0 || !st.parts[static_cast<size_t>(p)]) continue;
      size_t row = offset[static_cast<size_t>(p)] + static_cast<size_t>(t);
      if (norm[row] == 0) continue;
      double w = embed_part_weight(p);
      f.r.idx.push_back(static_cast<int32_t>(row));
      f.r.val.push_back(static_cast<float>(w));
      sum += w * w;
    }
    for (size_t e = begin; e < f.r.idx.size(); ++e) f.r.val[e] = static_cast<float>(f.r.val[e] / std::sqrt(sum));
    f.r.ptr.push_back(f.r.idx.size());
  }
  return f;
}

void normalize_rows(Mat& x) {
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    float n = x.row(i).norm();
    if (n > 0) x.row(i) /= n;
  }
}

}  // namespace

size_t Corpus::begin_call() {
  std::array<int32_t, part_count> none;
  none.fill(-1);
  calls_.push_back(none);
  return calls_.size() - 1;
}

void Corpus::add(size_t call, int part, std::string text) {
  size_t p = static_cast<size_t>(part);
  auto it = index_[p].find(text);
  int32_t id;
  if (it != index_[p].end()) {
    id = it->second;
  } else {
    id = static_cast<int32_t>(texts_[p].size());
    texts_[p].push_back(std::move(text));
    uses_[p].push_back(0);
    index_[p].emplace(std::string_view(texts_[p].back()), id);
  }
  ++uses_[p][static_cast<size_t>(id)];
  calls_[call][p] = id;
}

double embed_part_weight(int part) { return part == part_tools || part == part_shape ? 0.7 : 1.0; }

Embedder Embedder::fit(const Corpus& corpus, const EmbedSettings& st, std::vector<float>& x, json& stats) {
  SLMIFY_ASSERT(corpus.calls() > 0, "fit on an empty corpus");
  const size_t n = corpus.calls();
  // Document frequency of every bucket: in how many calls it occurs (a text counts for each use).
  std::vector<uint32_t> df(size_t(1) << st.hash_bits, 0);
  for (int p = 0; p < part_count; ++p) {
    if (!st.parts[static_cast<size_t>(p)]) continue;
    const size_t texts = corpus.texts(p);
#pragma omp parallel for schedule(dynamic, 64)
    for (size_t i = 0; i < texts; ++i) {
      std::vector<uint32_t> occ;
      featurize(p, corpus.text(p, i), st.hash_bits, occ);
      std::sort(occ.begin(), occ.end());
      occ.erase(std::unique(occ.begin(), occ.end()), occ.end());
      uint32_t uses = corpus.uses(p, i);
      for (uint32_t b : occ) {
#pragma omp atomic
        df[b] += uses;
      }
    }
  }
  // The vocabulary: buckets in at least two calls (one call says nothing about what calls share),
  // the most frequent kMaxFeatures of them.
  const uint32_t min_df = n >= 50 ? 2 : 1;
  std::vector<uint32_t> keep;
  for (uint32_t b = 0; b < df.size(); ++b)
    if (df[b] >= min_df) keep.push_back(b);
  if (keep.size() > kMaxFeatures) {
    std::stable_sort(keep.begin(), keep.end(), [&](uint32_t a, uint32_t b) { return df[a] > df[b]; });
    keep.resize(kMaxFeatures);
    std::sort(keep.begin(), keep.end());
  }
  Embedder e;
  e.settings_ = st;
  e.buckets_ = keep;
  e.idf_.resize(keep.size());
  std::unordered_map<uint32_t, int32_t> col_of;
  col_of.reserve(keep.size() * 2);
  for (size_t c = 0; c < keep.size(); ++c) {
    col_of[keep[c]] = static_cast<int32_t>(c);
    e.idf_[c] = static_cast<float>(std::log((1.0 + double(n)) / (1.0 + df[keep[c]])) + 1.0);  // smooth idf
  }
  df = {};
  Factors f = build_factors(corpus, st, col_of, e.idf_);
  // The SVD is fitted on a seeded sample of at most kFitCalls calls (all of them below that);
  // every call is then projected with it, as --assign projects new calls.
  Csr r_fit = f.r;
  if (n > kFitCalls) {
    r_fit = Csr{};
    r_fit.cols = f.r.cols;
    r_fit.ptr.push_back(0);
    uint64_t state = st.seed ^ 0xf17c0de;
    for (size_t c = 0; c < n; ++c) {
      state = mix64(state + 0x9e3779b97f4a7c15ull);
      if (state % n >= kFitCalls) continue;
      for (size_t e2 = f.r.ptr[c]; e2 < f.r.ptr[c + 1]; ++e2) r_fit.idx.push_back(f.r.idx[e2]), r_fit.val.push_back(f.r.val[e2]);
      r_fit.ptr.push_back(r_fit.idx.size());
      ++r_fit.rows;
    }
  }
  Csr st_t = csr_transpose(f.s), rt = csr_transpose(r_fit);
  const size_t d = keep.size(), fit_rows = r_fit.rows;
  const size_t k = std::max<size_t>(1, std::min({static_cast<size_t>(st.dim), fit_rows, std::max<size_t>(d, 1)}));
  const size_t l = std::max<size_t>(k, std::min({k + kOversampling, fit_rows, std::max<size_t>(d, 1)}));
  auto a_times = [&](const Mat& m) { return csr_times(r_fit, csr_times(f.s, m)); };    // A m   [fit rows x l]
  auto at_times = [&](const Mat& m) { return csr_times(st_t, csr_times(rt, m)); };     // A^T m [d x l]
  // Randomised range finder with power iterations, each step re-orthonormalised.
  Mat omega = gaussian_matrix(std::max<size_t>(d, 1), l, st.seed);
  Mat q = d > 0 ? orthonormalize(a_times(omega)) : Mat::Zero(static_cast<Eigen::Index>(fit_rows), static_cast<Eigen::Index>(l));
  for (int it = 0; it < kPowerIterations && d > 0; ++it) q = orthonormalize(a_times(orthonormalize(at_times(q))));
  // A ~ Q B with B = Q^T A; B^T = A^T Q [d x l]. Its SVD from the small Gram matrix B B^T.
  Mat bt = d > 0 ? at_times(q) : Mat::Zero(1, static_cast<Eigen::Index>(l));
  Eigen::MatrixXd gram = (bt.transpose() * bt).cast<double>();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(gram);
  e.k_ = static_cast<int>(k);
  Mat proj(bt.rows(), static_cast<Eigen::Index>(k));
  double total = 0, kept = 0;
  for (size_t row = 0; row < r_fit.rows; ++row) total += r_fit.ptr[row + 1] > r_fit.ptr[row] ? 1 : 0;
  Eigen::MatrixXf wk(static_cast<Eigen::Index>(l), static_cast<Eigen::Index>(k));  // top-k eigenvectors / sigma
  for (size_t j = 0; j < k; ++j) {
    Eigen::Index src = static_cast<Eigen::Index>(l - 1 - j);  // eigenvalues ascend
    double lambda = std::max(0.0, eig.eigenvalues()(src));
    double sigma = std::sqrt(lambda);
    e.singular_values_.push_back(static_cast<float>(sigma));
    kept += lambda;
    wk.col(static_cast<Eigen::Index>(j)) = sigma > 1e-6 ? Eigen::VectorXf(eig.eigenvectors().col(src).cast<float>() / static_cast<float>(sigma))
                                                        : Eigen::VectorXf::Zero(static_cast<Eigen::Index>(l));
  }
  proj = bt * wk;  // V_k = A^T Q W_k / sigma_k  [d x k]
  e.projection_.assign(proj.data(), proj.data() + proj.size());
  Mat xs = d > 0 ? csr_times(f.r, csr_times(f.s, proj)) : Mat::Zero(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(k));
  normalize_rows(xs);
  x.assign(xs.data(), xs.data() + xs.size());
  stats = {{"vocabulary", d},
           {"distinct_texts", f.s.rows},
           {"nonzeros", f.s.idx.size()},
           {"dim", k},
           {"fit_calls", fit_rows},
           {"explained_variance", total > 0 ? kept / total : 0.0}};
  return e;
}

std::vector<float> Embedder::transform(const Corpus& corpus) const {
  std::unordered_map<uint32_t, int32_t> col_of;
  col_of.reserve(buckets_.size() * 2);
  for (size_t c = 0; c < buckets_.size(); ++c) col_of[buckets_[c]] = static_cast<int32_t>(c);
  Factors f = build_factors(corpus, settings_, col_of, idf_);
  Eigen::Map<const Mat> proj(projection_.data(), static_cast<Eigen::Index>(buckets_.size()), k_);
  Mat xs = buckets_.empty() ? Mat::Zero(static_cast<Eigen::Index>(corpus.calls()), k_) : csr_times(f.r, csr_times(f.s, proj));
  normalize_rows(xs);
  return std::vector<float>(xs.data(), xs.data() + xs.size());
}

std::string Embedder::save(const fs::path& path, const json& extra, unsigned mode) const {
  json parts = json::array();
  for (int p = 0; p < part_count; ++p)
    if (settings_.parts[static_cast<size_t>(p)]) parts.push_back(view_part_name(p));
  json header = {{"format", "slmify-embedder"}, {"version", 1},        {"embedding", "hashing"},
                 {"hash_bits", settings_.hash_bits}, {"dim", k_},      {"seed", settings_.seed},
                 {"parts", parts},          {"columns", buckets_.size()}, {"singular_values", singular_values_},
                 {"byte_order", "little"},  {"extra", extra}};
  std::string h = header.dump();
  uint64_t len = h.size();
  FileSink out(path, static_cast<mode_t>(mode));
  out.write(kMagic, sizeof kMagic);
  out.write(&len, sizeof len);
  out.write(h);
  out.write(buckets_.data(), buckets_.size() * sizeof(uint32_t));
  out.write(idf_.data(), idf_.size() * sizeof(float));
  out.write(projection_.data(), projection_.size() * sizeof(float));
  return out.finish();
}

Embedder Embedder::load(const fs::path& path, json& extra) {
  std::string bytes = read_file(path);
  const std::string where = path.string();
  const std::string hint = "run `slmify cluster` again to write the cluster directory anew";
  uint64_t len = 0;
  if (bytes.size() < 16 || std::memcmp(bytes.data(), kMagic, 8) != 0)
    throw_bad_data(where, "is not an slmify embedding model (no SLMEMB01 header)", hint);
  std::memcpy(&len, bytes.data() + 8, 8);
  if (len > bytes.size() - 16) throw_bad_data(where, "is truncated (header of " + std::to_string(len) + " bytes)", hint);
  json h = json::parse(bytes.substr(16, len), nullptr, false);
  if (h.is_discarded() || h.value("format", "") != "slmify-embedder" || h.value("version", 0) != 1)
    throw_bad_data(where, "has an unreadable or unknown header", hint);
  Embedder e;
  e.settings_.hash_bits = h.at("hash_bits").get<int>();
  e.settings_.seed = h.at("seed").get<uint64_t>();
  e.settings_.parts = view_parts_selected(h.at("parts").get<std::vector<std::string>>());
  if (std::find(h["parts"].begin(), h["parts"].end(), "template") != h["parts"].end()) e.settings_.parts[part_template] = true;
  e.k_ = h.at("dim").get<int>();
  e.settings_.dim = e.k_;
  size_t cols = h.at("columns").get<size_t>();
  size_t body = 16 + len, need = cols * 4 + cols * 4 + cols * static_cast<size_t>(e.k_) * 4;
  if (bytes.size() - body != need)
    throw_bad_data(where, "has " + std::to_string(bytes.size() - body) + " bytes of model, expected " + std::to_string(need), hint);
  e.buckets_.resize(cols);
  e.idf_.resize(cols);
  e.projection_.resize(cols * static_cast<size_t>(e.k_));
  std::memcpy(e.buckets_.data(), bytes.data() + body, cols * 4);
  std::memcpy(e.idf_.data(), bytes.data() + body + cols * 4, cols * 4);
  std::memcpy(e.projection_.data(), bytes.data() + body + cols * 8, e.projection_.size() * 4);
  e.singular_values_ = h.at("singular_values").get<std::vector<float>>();
  extra = h.value("extra", json::object());
  return e;
}

}  // namespace slmify
