// Generation: left-padded batched prefill, KV-cache decode, and the HF sampling rules
// (repetition penalty, temperature, top-k, top-p) applied on the CPU with a seeded generator, so
// a seed gives the same text on any device and in any batch.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <set>

#include "core/error.h"
#include "model/model.h"
#include "model/transformer.h"

namespace slmify {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Picks the next token from one row of logits [V].
int32_t pick_token(std::vector<float> logits, const std::set<int32_t>& seen, const GenerateOptions& o, std::mt19937_64& rng) {
  const size_t V = logits.size();
  if (o.repetition_penalty != 1.0)
    for (int32_t id : seen) {
      if (id < 0 || size_t(id) >= V) continue;
      float& x = logits[size_t(id)];
      x = x < 0 ? float(x * o.repetition_penalty) : float(x / o.repetition_penalty);
    }
  if (o.temperature <= 0) return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
  const float ninf = -std::numeric_limits<float>::infinity();
  for (float& x : logits) x = float(x / o.temperature);
  if (o.top_k > 0 && size_t(o.top_k) < V) {
    std::vector<float> s(logits);
    std::nth_element(s.begin(), s.begin() + (o.top_k - 1), s.end(), std::greater<float>());
    const float kth = s[size_t(o.top_k - 1)];
    for (float& x : logits)
      if (x < kth) x = ninf;
  }
  const float mx = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(V);
  double sum = 0;
  for (size_t i = 0; i < V; ++i) sum += p[i] = std::exp(double(logits[i] - mx));
  for (double& x : p) x /= sum;
  if (o.top_p < 1.0) {  // keep the smallest set of most likely tokens whose mass reaches top_p
    std::vector<size_t> idx(V);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return p[a] > p[b]; });
    double cum = 0;
    size_t keep = 0;
    while (keep < V && (keep == 0 || cum < o.top_p)) cum += p[idx[keep++]];
    for (size_t i = keep; i < V; ++i) p[idx[i]] = 0;
    double s2 = 0;
    for (double x : p) s2 += x;
    for (double& x : p) x /= s2;
  }
  double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng), cum = 0;
  for (size_t i = 0; i < V; ++i) {
    cum += p[i];
    if (u < cum && p[i] > 0) return int32_t(i);
  }
  for (size_t i = V; i-- > 0;)
    if (p[i] > 0) return int32_t(i);
  return 0;
}

// Length of the longest prefix of `s` that ends on a whole UTF-8 character.
size_t utf8_complete(const std::string& s) {
  size_t n = s.size(), i = n;
  while (i > 0 && i + 4 > n) {
    unsigned char c = static_cast<unsigned char>(s[i - 1]);
    if ((c & 0xC0) != 0x80) {  // a lead byte or ASCII: is its sequence complete?
      size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
      return (i - 1) + len <= n ? n : i - 1;
    }
    --i;
  }
  return n;
}

// `s` with every byte that does not belong to a well-formed UTF-8 character replaced by U+FFFD
// (as transformers' decode does), so text can be printed and put in JSON.
std::string utf8_sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && len > 1) {  // reject overlong forms, surrogates and values past U+10FFFF
      uint32_t cp = c & (0x7F >> len);
      for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
      ok = !(len == 2 && cp < 0x80) && !(len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) &&
           !(len == 4 && (cp < 0x10000 || cp > 0x10FFFF));
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

// A prompt prefix shorter than this is not worth computing apart.
constexpr int64_t kMinSharedPrompt = 16;

struct Row {
  TokenIds prompt;
  GenerateResult out;
  std::set<int32_t> seen;
  std::mt19937_64 rng;
  bool done = false;
  size_t emitted = 0;  // bytes of text already streamed
};

std::vector<GenerateResult> generate_rows(Model& m, const std::vector<TokenIds>& prompts, const GenerateOptions& o,
                                                const std::function<void(std::string_view)>& on_text) {
  torch::NoGradGuard no_grad;
  TransformerWeights& w = m.weights();
  const int64_t B = static_cast<int64_t>(prompts.size());
  std::vector<Row> rows(prompts.size());
  int64_t Lmax = 0;
  for (size_t b = 0; b < prompts.size(); ++b) {
    if (prompts[b].empty()) throw_usage("prompt", "is empty: generation needs at least one token", "pass a prompt, or use --raw with BOS");
    for (int32_t id : prompts[b])
      if (id < 0 || id >= m.config().vocab_size) throw_usage("prompt", "token id " + std::to_string(id) + " is outside the vocabulary");
    rows[b].prompt = prompts[b];
    rows[b].seen.insert(prompts[b].begin(), prompts[b].end());
    rows[b].rng.seed(o.seed);
    Lmax = std::max<int64_t>(Lmax, static_cast<int64_t>(prompts[b].size()));
  }
  std::vector<int32_t> stops = m.stop_ids();
  stops.insert(stops.end(), o.stop_tokens.begin(), o.stop_tokens.end());
  size_t hold = 0;  // bytes held back while streaming, so a stop string is never half printed
  for (const std::string& s : o.stop_strings) hold = std::max(hold, s.empty() ? 0 : s.size() - 1);
  const bool text = m.has_tokenizer();

  // A prefix every prompt shares (a cluster's system prompt and tools) is computed once, for one
  // row, and its keys and values copied into every row of the cache; each prompt's rest follows,
  // left-padded, at positions that continue the prefix. At least one token of each prompt stays
  // in its rest, so that every row has a last position to predict from.
  const int64_t max_new = std::max<int64_t>(0, o.max_new_tokens);
  int64_t shared = 0;
  if (o.use_cache && B > 1) {
    int64_t shortest = Lmax;
    for (const TokenIds& p : prompts) shortest = std::min<int64_t>(shortest, static_cast<int64_t>(p.size()));
    const TokenIds& p0 = prompts[0];
    while (shared < shortest - 1 &&
           std::all_of(prompts.begin(), prompts.end(), [&](const TokenIds& p) { return p[size_t(shared)] == p0[size_t(shared)]; }))
      ++shared;
    if (shared < kMinSharedPrompt) shared = 0;
  }
  const int64_t L = Lmax - shared;  // longest rest

  // Left-padded batch of the rests: ids, validity and positions (continuing the prefix).
  std::vector<int64_t> ids(size_t(B * L), 0), pos(size_t(B * L), 0);
  std::vector<uint8_t> valid(size_t(B * L), 0);
  for (int64_t b = 0; b < B; ++b) {
    const TokenIds& p = prompts[size_t(b)];
    const int64_t n = static_cast<int64_t>(p.size()) - shared, pad = L - n;
    for (int64_t j = 0; j < n; ++j) {
      ids[size_t(b * L + pad + j)] = p[size_t(shared + j)];
      pos[size_t(b * L + pad + j)] = shared + j;
      valid[size_t(b * L + pad + j)] = 1;
    }
  }
  auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  torch::Tensor all_ids = torch::tensor(ids, i64).view({B, L});
  torch::Tensor all_pos = torch::tensor(pos, i64).view({B, L});
  torch::Tensor all_valid = torch::tensor(std::vector<int64_t>(valid.begin(), valid.end()), i64).view({B, L}).to(torch::kBool);
  std::vector<int64_t> next_pos(static_cast<size_t>(B), 0);
  for (int64_t b = 0; b < B; ++b) next_pos[size_t(b)] = static_cast<int64_t>(prompts[size_t(b)].size());

  KvCache cache;
  if (o.use_cache) cache = w.make_cache(B, Lmax + max_new);
  auto t0 = Clock::now();
  if (shared > 0) {
    KvCache one = w.make_cache(1, shared);
    torch::Tensor pid = torch::tensor(std::vector<int64_t>(prompts[0].begin(), prompts[0].begin() + shared), i64).view({1, shared});
    w.forward(pid.to(w.device), torch::arange(shared, i64).view({1, shared}).to(w.device), &one);
    for (size_t l = 0; l < cache.k.size(); ++l) {
      cache.k[l].narrow(2, 0, shared).copy_(one.k[l].expand({B, -1, -1, -1}));
      cache.v[l].narrow(2, 0, shared).copy_(one.v[l].expand({B, -1, -1, -1}));
    }
    cache.key_valid.narrow(1, 0, shared).fill_(true);
    cache.length = shared;
  }
  torch::Tensor hidden = w.forward(all_ids.to(w.device), all_pos.to(w.device), o.use_cache ? &cache : nullptr, all_valid.to(w.device));
  torch::Tensor last = w.logits(hidden.narrow(1, hidden.size(1) - 1, 1)).to(torch::kCPU).contiguous();  // [B, 1, V]
  const double prefill = seconds_since(t0);
  auto t1 = Clock::now();
  const int64_t V = last.size(-1);

  // live: the rows still in the batch tensors, in their order (finished rows leave the cache).
  std::vector<int64_t> live(static_cast<size_t>(B));
  std::iota(live.begin(), live.end(), 0);
  for (int64_t step = 0; step < max_new; ++step) {
    const int64_t n_live = static_cast<int64_t>(live.size());
    std::vector<int64_t> next(size_t(n_live), 0), npos(size_t(n_live), 0);
    bool all_done = true;
    for (int64_t i = 0; i < n_live; ++i) {
      const int64_t b = live[size_t(i)];
      Row& r = rows[size_t(b)];
      npos[size_t(i)] = next_pos[size_t(b)]++;
      if (r.done) continue;
      const float* lp = last.data_ptr<float>() + i * V;
      int32_t tok = pick_token(std::vector<float>(lp, lp + V), r.seen, o, r.rng);
      r.out.tokens.push_back(tok);
      r.seen.insert(tok);
      next[size_t(i)] = tok;
      if (std::find(stops.begin(), stops.end(), tok) != stops.end()) {
        r.done = true;
        r.out.finish_reason = "stop";
      }
      if (text) {
        // Whole characters are final; a tail that may still be completed stays out until the end.
        std::string raw = m.tokenizer().decode(r.out.tokens, true);
        size_t whole = utf8_complete(raw);
        r.out.text = utf8_sanitize(std::string_view(raw).substr(0, whole));
        bool final_step = r.done || step + 1 == max_new;
        if (final_step) r.out.text += utf8_sanitize(std::string_view(raw).substr(whole));
        for (const std::string& s : o.stop_strings) {
          size_t at = s.empty() ? std::string::npos : r.out.text.find(s);
          if (at != std::string::npos) {
            r.out.text.resize(at);
            r.done = true;
            r.out.finish_reason = "stop_string";
          }
        }
        if (on_text) {
          size_t end = r.done || final_step ? r.out.text.size() : utf8_complete(r.out.text.substr(0, r.out.text.size() > hold ? r.out.text.size() - hold : 0));
          if (end > r.emitted) {
            on_text(std::string_view(r.out.text).substr(r.emitted, end - r.emitted));
            r.emitted = end;
          }
        }
      }
      if (!r.done && step + 1 == max_new) {
        r.done = true;
        r.out.finish_reason = "length";
      }
      all_done = all_done && r.done;
    }
    if (all_done) break;
    torch::Tensor nt = torch::tensor(next, i64).view({n_live, 1});
    torch::Tensor np = torch::tensor(npos, i64).view({n_live, 1});
    if (o.use_cache) {
      // Rows that finished leave the batch once a quarter of it has: a decode step's cost
      // follows the batch, and copying the cache costs less than a few steps.
      std::vector<int64_t> keep;
      for (int64_t i = 0; i < n_live; ++i)
        if (!rows[size_t(live[size_t(i)])].done) keep.push_back(i);
      if (4 * static_cast<int64_t>(keep.size()) <= 3 * n_live) {
        torch::Tensor k = torch::tensor(keep, i64).to(w.device);
        for (size_t l = 0; l < cache.k.size(); ++l) {
          cache.k[l] = cache.k[l].index_select(0, k);
          cache.v[l] = cache.v[l].index_select(0, k);
        }
        cache.key_valid = cache.key_valid.index_select(0, k);
        nt = nt.index_select(0, k.to(torch::kCPU));
        np = np.index_select(0, k.to(torch::kCPU));
        std::vector<int64_t> still;
        for (int64_t i : keep) still.push_back(live[size_t(i)]);
        live = std::move(still);
      }
      hidden = w.forward(nt.to(w.device), np.to(w.device), &cache);
    } else {  // full recomputation of prompt + generated so far
      all_ids = torch::cat({all_ids, nt}, 1);
      all_pos = torch::cat({all_pos, np}, 1);
      all_valid = torch::cat({all_valid, torch::ones({n_live, 1}, torch::kBool)}, 1);
      hidden = w.forward(all_ids.to(w.device), all_pos.to(w.device), nullptr, all_valid.to(w.device));
    }
    last = w.logits(hidden.narrow(1, hidden.size(1) - 1, 1)).to(torch::kCPU).contiguous();
  }
  const double decode = seconds_since(t1);
  std::vector<GenerateResult> out;
  for (Row& r : rows) {
    if (r.out.finish_reason.empty()) r.out.finish_reason = "length";
    r.out.prefill_seconds = prefill;
    r.out.decode_seconds = decode;
    out.push_back(std::move(r.out));
  }
  return out;
}

}  // namespace

GenerateResult model_generate(Model& m, const TokenIds& prompt, const GenerateOptions& o,
                              const std::function<void(std::string_view)>& on_text) {
  return std::move(generate_rows(m, {prompt}, o, on_text)[0]);
}

std::vector<GenerateResult> model_generate_batch(Model& m, const std::vector<TokenIds>& prompts, const GenerateOptions& o) {
  if (prompts.empty()) return {};
  return generate_rows(m, prompts, o, {});
}

}  // namespace slmify
