// The decoder forward pass (RMSNorm, RoPE, grouped-query attention, gated MLP) and the KV cache.
#include "model/transformer.h"

#include <ATen/ops/scaled_dot_product_attention.h>
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/dropout.h>

#include <cmath>
#include <map>

#include "core/error.h"

namespace slmify {

namespace F = torch::nn::functional;

torch::Tensor Linear::forward(const torch::Tensor& x) const {
  torch::Tensor y = torch::linear(x, weight, bias);
  if (lora_a.defined()) {
    torch::Tensor h = x;
    if (lora_dropout > 0 && torch::GradMode::is_enabled())
      h = F::dropout(h, F::DropoutFuncOptions().p(lora_dropout).training(true));
    h = h.to(lora_a.scalar_type());
    torch::Tensor d;
    if (lora_a.dim() == 3) {  // one adapter per row: [B, T, in] x [B, in, r] -> [B, T, r] -> [B, T, out]
      SLMIFY_ASSERT(lora_rows && lora_rows->defined() && h.dim() == 3, "multi-adapter LoRA needs lora_rows and [B, T, in] input");
      torch::Tensor a = lora_a.index_select(0, *lora_rows), b = lora_b.index_select(0, *lora_rows);
      d = torch::bmm(torch::bmm(h, a.transpose(1, 2)), b.transpose(1, 2));
    } else {
      d = torch::linear(torch::linear(h, lora_a), lora_b);
    }
    y = y + d.mul(lora_scale).to(y.scalar_type());
  }
  return y;
}

namespace {

// RMSNorm in fp32. Llama: weight · norm(x) cast back; Gemma: norm(x) · (1 + weight), then cast.
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& w, const ModelConfig& c) {
  // fp32 at least (fp64 stays fp64: gradient checks by finite differences need it).
  torch::Tensor xf = x.scalar_type() == torch::kFloat64 ? x : x.to(torch::kFloat32);
  torch::Tensor n = xf * torch::rsqrt(xf.pow(2).mean(-1, true) + c.rms_norm_eps);
  if (c.gemma) return (n * (1.0 + w.to(xf.scalar_type()))).to(x.scalar_type());
  return w * n.to(x.scalar_type());
}

torch::Tensor rotate_half(const torch::Tensor& x) {
  int64_t h = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, h, h), x.narrow(-1, 0, h)}, -1);
}

torch::Tensor activation(const torch::Tensor& x, const ModelConfig& c) {
  if (c.hidden_act == "gelu_tanh") return F::gelu(x, F::GELUFuncOptions().approximate("tanh"));
  return F::silu(x);
}

// Attention of the rows of `blocks`, block by block. q, k, v [B, Hq, T, hd] (k, v already
// repeated for grouped-query attention); `masks` caches the [L, P+L] mask of each (P, L).
torch::Tensor block_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const AttentionBlocks& blocks, double scale,
                              std::map<std::pair<int64_t, int64_t>, torch::Tensor>& masks) {
  const int64_t B = q.size(0), T = q.size(2);
  std::vector<torch::Tensor> rows;
  rows.reserve(size_t(B));
  for (int64_t b = 0; b < B; ++b) {
    torch::Tensor qb = q[b], kb = k[b], vb = v[b];  // [Hq, T, hd]
    std::vector<torch::Tensor> out;
    int64_t at = 0;
    for (const AttentionBlock& blk : blocks[size_t(b)]) {
      SLMIFY_ASSERT(blk.start == at && blk.len > 0 && blk.start + blk.len <= T, "attention blocks must tile the row in order");
      at += blk.len;
      torch::Tensor qs = qb.narrow(1, blk.start, blk.len).unsqueeze(0);
      torch::Tensor ks = kb.narrow(1, blk.start, blk.len), vs = vb.narrow(1, blk.start, blk.len);
      if (blk.prefix_len == 0) {
        out.push_back(at::scaled_dot_product_attention(qs, ks.unsqueeze(0), vs.unsqueeze(0), std::nullopt, 0.0, true, scale)[0]);
        continue;
      }
      SLMIFY_ASSERT(blk.prefix_start + blk.prefix_len <= blk.start, "a block's prefix comes before it");
      ks = torch::cat({kb.narrow(1, blk.prefix_start, blk.prefix_len), ks}, 1).unsqueeze(0);
      vs = torch::cat({vb.narrow(1, blk.prefix_start, blk.prefix_len), vs}, 1).unsqueeze(0);
      torch::Tensor& m = masks[{blk.prefix_len, blk.len}];
      if (!m.defined()) {
        auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(q.device());
        torch::Tensor qi = torch::arange(blk.len, i64).view({blk.len, 1});
        torch::Tensor kj = torch::arange(blk.prefix_len + blk.len, i64).view({1, -1}) - blk.prefix_len;
        m = (kj <= qi).view({1, 1, blk.len, blk.prefix_len + blk.len});
      }
      out.push_back(at::scaled_dot_product_attention(qs, ks, vs, m, 0.0, false, scale)[0]);
    }
    if (at < T) out.push_back(torch::zeros({q.size(1), T - at, q.size(3)}, q.options()));
    rows.push_back(out.size() == 1 ? out[0] : torch::cat(out, 1));
  }
  return torch::stack(rows);
}

}  // namespace

torch::Tensor TransformerWeights::forward(const torch::Tensor& ids, const torch::Tensor& positions, KvCache* cache,
                                          const torch::Tensor& key_valid, const torch::Tensor& segments,
                                          const torch::Tensor& branches, const AttentionBlocks* blocks) const {
  const ModelConfig& c = config;
  const int64_t B = ids.size(0), T = ids.size(1), Hq = c.num_heads, Hkv = c.num_kv_heads, hd = c.head_dim;
  torch::Tensor x = embed.index_select(0, ids.reshape(-1)).view({B, T, c.hidden_size});  // [B, T, H]
  if (c.gemma) x = x * torch::tensor(std::sqrt(double(c.hidden_size)), x.options()).to(x.scalar_type());

  // RoPE tables for these positions, computed in fp32 then cast like the reference.
  torch::Tensor freqs = positions.to(torch::kFloat32).unsqueeze(-1) * inv_freq.view({1, 1, -1});  // [B, T, hd/2]
  torch::Tensor emb = torch::cat({freqs, freqs}, -1).unsqueeze(1);                               // [B, 1, T, hd]
  torch::Tensor cos = emb.cos().to(dtype), sin = emb.sin().to(dtype);

  // Which keys each query may see: causal, not padding, within the sliding window.
  const int64_t past = cache ? cache->length : 0, S = past + T;
  if (cache) SLMIFY_ASSERT(S <= cache->k[0].size(2), "KV cache capacity exceeded");
  torch::Tensor valid;  // [B, S] bool
  if (cache) {
    if (key_valid.defined()) cache->key_valid.narrow(1, past, T).copy_(key_valid);
    else cache->key_valid.narrow(1, past, T).fill_(true);
    valid = cache->key_valid.narrow(1, 0, S);
  } else if (key_valid.defined()) {
    valid = key_valid;
  }
  torch::Tensor mask;  // [B, 1, T, S] bool, true = attend; undefined = attend everywhere
  bool need_causal = T > 1;
  bool need_window = c.sliding_window && S > *c.sliding_window;
  bool need_padding = valid.defined() && !valid.all().item<bool>();
  SLMIFY_ASSERT(!segments.defined() || !cache, "packed segments are for training (no cache)");
  SLMIFY_ASSERT(!blocks || (!cache && !need_window && int64_t(blocks->size()) == B),
                "attention blocks are for training rows (no cache, no sliding window), one list per row");
  std::map<std::pair<int64_t, int64_t>, torch::Tensor> block_masks;
  if (!blocks && (need_causal || need_window || need_padding || segments.defined())) {
    torch::Tensor qpos = torch::arange(past, S, torch::TensorOptions().dtype(torch::kInt64).device(device)).view({T, 1});
    torch::Tensor kpos = torch::arange(0, S, torch::TensorOptions().dtype(torch::kInt64).device(device)).view({1, S});
    torch::Tensor m = kpos <= qpos;  // [T, S]
    if (need_window) m = m & (kpos > qpos - *c.sliding_window);
    m = m.view({1, 1, T, S});
    if (valid.defined()) m = m & valid.view({B, 1, 1, S});
    if (segments.defined()) m = m & (segments.view({B, 1, T, 1}) == segments.view({B, 1, 1, S}));
    if (branches.defined()) {
      SLMIFY_ASSERT(segments.defined(), "branches come with segments");
      torch::Tensor kb = branches.view({B, 1, 1, S});
      m = m & ((kb == 0) | (branches.view({B, 1, T, 1}) == kb));
    }
    // A fully masked row (a padding query) would give NaN; let it see itself.
    torch::Tensor diag = (kpos == qpos).view({1, 1, T, S});
    mask = m | (~m.any(-1, true) & diag);
  }

  const double scale = 1.0 / std::sqrt(double(hd));
  for (size_t l = 0; l < layers.size(); ++l) {
    const DecoderLayer& L = layers[l];
    torch::Tensor h = rms_norm(x, L.input_norm, c);
    torch::Tensor q, k, v;
    if (c.fused_qkv) {
      torch::Tensor qkv = L.qkv.forward(h);  // [B, T, q + 2kv]
      q = qkv.narrow(-1, 0, c.q_dim());
      k = qkv.narrow(-1, c.q_dim(), c.kv_dim());
      v = qkv.narrow(-1, c.q_dim() + c.kv_dim(), c.kv_dim());
    } else {
      q = L.q.forward(h);
      k = L.k.forward(h);
      v = L.v.forward(h);
    }
    q = q.view({B, T, Hq, hd}).transpose(1, 2);   // [B, Hq, T, hd]
    k = k.view({B, T, Hkv, hd}).transpose(1, 2);  // [B, Hkv, T, hd]
    v = v.view({B, T, Hkv, hd}).transpose(1, 2);
    q = q * cos + rotate_half(q) * sin;
    k = k * cos + rotate_half(k) * sin;
    if (cache) {
      cache->k[l].narrow(2, past, T).copy_(k);
      cache->v[l].narrow(2, past, T).copy_(v);
      k = cache->k[l].narrow(2, 0, S);
      v = cache->v[l].narrow(2, 0, S);
    }
    if (Hkv != Hq) {  // grouped-query attention: each KV head serves Hq/Hkv query heads
      k = k.repeat_interleave(Hq / Hkv, 1);
      v = v.repeat_interleave(Hq / Hkv, 1);
    }
    torch::Tensor a = blocks ? block_attention(q, k, v, *blocks, scale, block_masks)
                             : at::scaled_dot_product_attention(q, k, v, mask.defined() ? std::optional<torch::Tensor>(mask) : std::nullopt,
                                                                0.0, false, scale);  // [B, Hq, T, hd]
    a = a.transpose(1, 2).reshape({B, T, c.q_dim()});
    x = x + L.o.forward(a);

    h = rms_norm(x, L.post_attention_norm, c);
    torch::Tensor g, u;
    if (c.fused_gate_up) {
      torch::Tensor gu = L.gate_up.forward(h);  // [B, T, 2I]
      g = gu.narrow(-1, 0, c.intermediate_size);
      u = gu.narrow(-1, c.intermediate_size, c.intermediate_size);
    } else {
      g = L.gate.forward(h);
      u = L.up.forward(h);
    }
    x = x + L.down.forward(activation(g, c) * u);
  }
  if (cache) cache->length = S;
  return rms_norm(x, final_norm, c);
}

torch::Tensor TransformerWeights::logits(const torch::Tensor& hidden) const {
  return lm_head.forward(hidden).to(torch::kFloat32);
}

KvCache TransformerWeights::make_cache(int64_t batch, int64_t capacity) const {
  KvCache kv;
  auto opts = torch::TensorOptions().dtype(dtype).device(device);
  for (size_t l = 0; l < layers.size(); ++l) {
    kv.k.push_back(torch::empty({batch, config.num_kv_heads, capacity, config.head_dim}, opts));
    kv.v.push_back(torch::empty({batch, config.num_kv_heads, capacity, config.head_dim}, opts));
  }
  kv.key_valid = torch::zeros({batch, capacity}, torch::TensorOptions().dtype(torch::kBool).device(device));
  return kv;
}

}  // namespace slmify
