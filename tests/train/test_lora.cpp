// LoRA (lib/train/lora.h): B = 0 leaves the base exactly as it was, gradients equal central
// finite differences (fp64), one adapter per batch row equals each adapter alone, AdamW equals
// torch::optim::AdamW, and adapters slmify writes load in HF PEFT with the same logits (and the
// merged checkpoint in transformers), on the tiny models of tests/reference/model_reference.py.
#ifdef SLMIFY_HAVE_TORCH
#include <torch/nn/functional/loss.h>
#include <torch/optim/adamw.h>
#include <torch/torch.h>
#undef CHECK  // c10's logging macro; the tests use Catch's
#endif
#include <catch2/catch.hpp>

#ifdef SLMIFY_HAVE_TORCH

#include "../core/test_util.h"
#include "model/hf_config.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "model/transformer.h"
#include "train/lora.h"

using namespace slmify;
using namespace slmify_test;

namespace {

fs::path ref_dir() {
  static fs::path d = python_reference_dir("model_reference.py");
  return d;
}

TransformerWeights load(const std::string& name, torch::ScalarType dt = torch::kFloat32) {
  fs::path dir = ref_dir() / name;
  TransformerWeights w;
  transformer_load(w, model_config_load(dir), Checkpoint(dir), torch::kCPU, dt);
  return w;
}

torch::Tensor ids_tensor(int64_t B, int64_t T, uint64_t seed) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::randint(3, 200, {B, T}, g, torch::TensorOptions().dtype(torch::kInt64));
}

torch::Tensor forward_logits(TransformerWeights& w, const torch::Tensor& ids) {
  torch::Tensor pos = torch::arange(ids.size(1), torch::kInt64).unsqueeze(0).expand({ids.size(0), ids.size(1)});
  torch::Tensor h = w.forward(ids, pos, nullptr);
  return h.scalar_type() == torch::kFloat64 ? w.lm_head.forward(h) : w.logits(h);  // logits() rounds to fp32
}

double loss_of(TransformerWeights& w, const torch::Tensor& ids) {
  torch::Tensor lg = forward_logits(w, ids).to(torch::kFloat64);
  torch::Tensor l = torch::nn::functional::cross_entropy(lg.narrow(1, 0, ids.size(1) - 1).reshape({-1, lg.size(-1)}),
                                                         ids.narrow(1, 1, ids.size(1) - 1).reshape(-1));
  return l.item<double>();
}

// Replaces the set's fp32 tensors by fp64 ones (for finite differences).
void to_fp64(LoraSet& set) {
  for (LoraTarget& t : set.targets) {
    t.a = t.a.detach().to(torch::kFloat64).set_requires_grad(true);
    t.b = t.b.detach().to(torch::kFloat64).set_requires_grad(true);
    t.linear->lora_a = t.a;
    t.linear->lora_b = t.b;
  }
}

// max |a - b| over the larger of the two tensors' max |value|: a tolerance relative to the scale.
double max_rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  double scale = std::max(a.abs().max().item<double>(), b.abs().max().item<double>());
  return (a - b).abs().max().item<double>() / std::max(scale, 1e-300);
}

}  // namespace

TEST_CASE("lora: with B = 0 the adapted model equals the base exactly, for one and several adapters", "[train][torch]") {
  for (const char* name : {"llama", "phi3", "qwen2"}) {
    INFO(name);
    TransformerWeights w = load(name);
    torch::NoGradGuard ng;
    torch::Tensor ids = ids_tensor(3, 16, 1);
    torch::Tensor base = forward_logits(w, ids);
    LoraSet set;
    LoraOptions o;
    o.rank = 4;
    o.n_adapters = 3;
    lora_attach(w, set, o);
    set.rows = torch::tensor({2, 0, 1}, torch::kInt64);
    CHECK(torch::equal(forward_logits(w, ids), base));
    CHECK(set.targets.size() == size_t(2 * (w.config.fused_qkv ? 4 : 7)));
    // A is drawn like PEFT's kaiming_uniform(a=√5): |A| <= 1/√in, and not all tiny.
    const LoraTarget& t = set.targets[0];
    double bound = 1.0 / std::sqrt(double(t.a.size(-1)));
    CHECK(t.a.abs().max().item<double>() <= bound);
    CHECK(t.a.abs().max().item<double>() > 0.9 * bound);
  }
}

TEST_CASE("lora: gradients equal central finite differences (fp64), rsLoRA and dropout-free", "[train][torch]") {
  TransformerWeights w = load("llama", torch::kFloat64);
  LoraSet set;
  LoraOptions o;
  o.rank = 3;
  o.alpha = 5;
  o.rslora = true;
  o.seed = 4;
  lora_attach(w, set, o);
  to_fp64(set);
  {
    torch::NoGradGuard ng;  // non-zero B so that A gets a gradient too
    auto g = at::make_generator<at::CPUGeneratorImpl>(9);
    for (LoraTarget& t : set.targets) t.b.copy_(torch::randn(t.b.sizes(), g, torch::kFloat64) * 0.1);
  }
  torch::Tensor ids = ids_tensor(2, 12, 3);
  torch::Tensor loss = [&] {
    torch::Tensor lg = forward_logits(w, ids).to(torch::kFloat64);
    return torch::nn::functional::cross_entropy(lg.narrow(1, 0, 11).reshape({-1, lg.size(-1)}), ids.narrow(1, 1, 11).reshape(-1));
  }();
  loss.backward();
  std::mt19937_64 rng(5);
  int checked = 0;
  double worst = 0;
  std::string bad;
  for (size_t k = 0; k < set.targets.size(); k += 3)
    for (int ab = 0; ab < 2; ++ab) {
      torch::Tensor p = ab ? set.targets[k].b : set.targets[k].a;
      torch::Tensor flat = p.detach().view(-1);
      torch::Tensor grad = p.grad().view(-1);
      for (int rep = 0; rep < 3; ++rep) {
        int64_t i = int64_t(rng() % uint64_t(flat.numel()));
        const double h = 1e-6, orig = flat[i].item<double>();
        torch::NoGradGuard ng;
        flat[i] = orig + h;
        double up = loss_of(w, ids);
        flat[i] = orig - h;
        double down = loss_of(w, ids);
        flat[i] = orig;
        double fd = (up - down) / (2 * h), an = grad[i].item<double>();
        double err = std::abs(fd - an) / std::max(1e-4, std::abs(fd) + std::abs(an));
        if (err > 1e-5) bad += set.targets[k].module + (ab ? " B" : " A") + "[" + std::to_string(i) + "] fd " + std::to_string(fd) + " analytic " + std::to_string(an) + "\n";
        worst = std::max(worst, err);
        ++checked;
      }
    }
  INFO("worst relative error " << worst << " over " << checked << " entries\n" << bad);
  CHECK(checked >= 24);
  CHECK(worst < 1e-5);
  for (auto& [name, t] : transformer_named_weights(w)) CHECK_FALSE(t.requires_grad());
}

TEST_CASE("lora: one adapter per batch row gives each row what its adapter alone gives, with gradients", "[train][torch]") {
  // fp64 throughout, B drawn from a seeded generator: the batched and the 2-d paths sum in other
  // orders, so the comparison is relative to each tensor's scale, at a tolerance fp64 meets by far.
  TransformerWeights w = load("llama", torch::kFloat64);
  LoraSet multi;
  LoraOptions o;
  o.rank = 4;
  o.n_adapters = 2;
  o.seed = 11;
  lora_attach(w, multi, o);
  to_fp64(multi);
  {
    torch::NoGradGuard ng;
    auto g = at::make_generator<at::CPUGeneratorImpl>(12);
    for (LoraTarget& t : multi.targets) t.b.copy_(torch::randn(t.b.sizes(), g, torch::kFloat64) * 0.1);
  }
  torch::Tensor ids = ids_tensor(2, 10, 8);
  multi.rows = torch::tensor({1, 0}, torch::kInt64);
  torch::Tensor both = forward_logits(w, ids);
  both.sum().backward();
  std::vector<torch::Tensor> ga, gb;
  for (LoraTarget& t : multi.targets) {
    ga.push_back(t.a.grad().clone());
    gb.push_back(t.b.grad().clone());
  }
  // Each adapter alone, as plain 2-d LoRA, on its row.
  for (int64_t k = 0; k < 2; ++k) {
    int64_t row = k == 1 ? 0 : 1;
    std::vector<torch::Tensor> a, b;
    for (LoraTarget& t : multi.targets) {
      a.push_back(t.a.detach()[k].clone().set_requires_grad(true));
      b.push_back(t.b.detach()[k].clone().set_requires_grad(true));
      t.linear->lora_a = a.back();
      t.linear->lora_b = b.back();
    }
    torch::Tensor one = forward_logits(w, ids.narrow(0, row, 1));
    CHECK(max_rel_diff(one[0], both[row]) < 1e-10);
    one.sum().backward();
    for (size_t i = 0; i < a.size(); ++i) {
      INFO(multi.targets[i].module << " adapter " << k);
      CHECK(max_rel_diff(a[i].grad(), ga[i][k]) < 1e-9);
      CHECK(max_rel_diff(b[i].grad(), gb[i][k]) < 1e-9);
    }
    for (LoraTarget& t : multi.targets) {
      t.linear->lora_a = t.a;
      t.linear->lora_b = t.b;
    }
  }
}

TEST_CASE("lora: a shared prefix with several continuations gives each the loss and gradients of its own row",
          "[train][torch]") {
  // One packed row [prefix c1 c2 | e3 | padding]: c1 and c2 continue the same 12-token prefix
  // (branches 1 and 2 of segment 1), e3 is a call of its own (segment 2). The summed NLL of every
  // continuation token and the LoRA gradients must equal those of the rows [prefix c1],
  // [prefix c2] and [e3] computed separately. fp64 shows the equality (1e-9 relative, only the
  // order of sums differs); fp32 must agree within its rounding (2e-4 relative).
  for (torch::ScalarType dt : {torch::kFloat64, torch::kFloat32}) {
    const double tol = dt == torch::kFloat64 ? 1e-9 : 2e-4;
    TransformerWeights w = load("llama", dt);
    LoraSet set;
    LoraOptions o;
    o.rank = 4;
    o.seed = 21;
    lora_attach(w, set, o);
    if (dt == torch::kFloat64) to_fp64(set);
    {
      torch::NoGradGuard ng;
      auto g = at::make_generator<at::CPUGeneratorImpl>(22);
      for (LoraTarget& t : set.targets) t.b.copy_(torch::randn(t.b.sizes(), g, torch::kFloat64).to(t.b.scalar_type()) * 0.1);
    }
    auto part = [](uint64_t seed, int64_t n) { return ids_tensor(1, n, seed)[0]; };
    torch::Tensor prefix = part(31, 12), c1 = part(32, 7), c2 = part(33, 5), e3 = part(34, 6);
    auto i64 = torch::TensorOptions().dtype(torch::kInt64);
    // NLL of the tokens ids[from..] each predicted from the position before, for one row alone.
    auto nll_alone = [&](const torch::Tensor& ids, int64_t from) {
      const int64_t T = ids.size(0);
      torch::Tensor pos = torch::arange(T, i64).unsqueeze(0);
      torch::Tensor h = w.forward(ids.unsqueeze(0), pos, nullptr)[0];
      torch::Tensor lp = torch::log_softmax(w.lm_head.forward(h).to(torch::kFloat64), -1);
      torch::Tensor tgt = ids.narrow(0, from, T - from);
      return -lp.narrow(0, from - 1, T - from).gather(1, tgt.unsqueeze(1)).sum();
    };
    auto grads = [&]() {
      std::vector<torch::Tensor> g;
      for (LoraTarget& t : set.targets) {
        g.push_back(t.a.grad().clone());
        g.push_back(t.b.grad().clone());
        t.a.mutable_grad().zero_();
        t.b.mutable_grad().zero_();
      }
      return g;
    };
    torch::Tensor alone = nll_alone(torch::cat({prefix, c1}), 12) + nll_alone(torch::cat({prefix, c2}), 12) + nll_alone(e3, 1);
    alone.backward();
    std::vector<torch::Tensor> g_alone = grads();

    // The shared row: ids, positions, segments, branches; targets as (source position, token).
    torch::Tensor ids = torch::cat({prefix, c1, c2, e3, torch::zeros({3}, i64)}).unsqueeze(0);  // T = 33
    std::vector<int64_t> pos, seg, br;
    for (int64_t i = 0; i < 12; ++i) pos.push_back(i), seg.push_back(1), br.push_back(0);
    for (int64_t i = 0; i < 7; ++i) pos.push_back(12 + i), seg.push_back(1), br.push_back(1);
    for (int64_t i = 0; i < 5; ++i) pos.push_back(12 + i), seg.push_back(1), br.push_back(2);
    for (int64_t i = 0; i < 6; ++i) pos.push_back(i), seg.push_back(2), br.push_back(1);
    for (int64_t i = 0; i < 3; ++i) pos.push_back(0), seg.push_back(0), br.push_back(0);
    std::vector<int64_t> src, tgt;
    const std::vector<int64_t> flat_ids(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
    for (int64_t i = 0; i < 7; ++i) src.push_back(i == 0 ? 11 : 12 + i - 1), tgt.push_back(flat_ids[size_t(12 + i)]);
    for (int64_t i = 0; i < 5; ++i) src.push_back(i == 0 ? 11 : 19 + i - 1), tgt.push_back(flat_ids[size_t(19 + i)]);
    for (int64_t i = 1; i < 6; ++i) src.push_back(24 + i - 1), tgt.push_back(flat_ids[size_t(24 + i)]);
    auto t1 = [&](std::vector<int64_t>& v) { return torch::tensor(v, i64).unsqueeze(0); };
    // The same structure as attention blocks (computed per call, no [T, T] mask): the prefix, c1
    // and c2 each seeing it, e3 alone, then padding.
    const AttentionBlocks blocks = {{{0, 0, 0, 12}, {0, 12, 12, 7}, {0, 12, 19, 5}, {0, 0, 24, 6}}};
    for (bool by_blocks : {false, true}) {
      torch::Tensor h = by_blocks ? w.forward(ids, t1(pos), nullptr, {}, {}, {}, &blocks)[0]
                                  : w.forward(ids, t1(pos), nullptr, {}, t1(seg), t1(br))[0];
      torch::Tensor lp = torch::log_softmax(w.lm_head.forward(h.index_select(0, torch::tensor(src, i64))).to(torch::kFloat64), -1);
      torch::Tensor shared = -lp.gather(1, torch::tensor(tgt, i64).unsqueeze(1)).sum();
      shared.backward();
      std::vector<torch::Tensor> g_shared = grads();
      INFO("dtype " << (dt == torch::kFloat64 ? "fp64" : "fp32") << (by_blocks ? ", attention blocks" : ", dense mask"));
      CHECK(std::abs(shared.item<double>() - alone.item<double>()) / std::abs(alone.item<double>()) < tol);
      for (size_t i = 0; i < g_alone.size(); ++i) {
        INFO(set.targets[i / 2].module << (i % 2 ? " B" : " A"));
        CHECK(max_rel_diff(g_shared[i], g_alone[i]) < tol);
      }
    }
    lora_detach(set);
  }
}

TEST_CASE("lora: adamw_step equals torch::optim::AdamW step for step", "[train][torch]") {
  torch::manual_seed(1);
  torch::Tensor x = torch::randn({5, 7});
  std::vector<torch::Tensor> mine = {torch::randn({7, 3}).set_requires_grad(true)};
  torch::Tensor theirs = mine[0].detach().clone().set_requires_grad(true);
  torch::optim::AdamW opt({theirs}, torch::optim::AdamWOptions(3e-2).weight_decay(0.1));
  std::vector<torch::Tensor> m1 = {torch::zeros({7, 3})}, m2 = {torch::zeros({7, 3})};
  for (int64_t s = 1; s <= 6; ++s) {
    double lr = 3e-2;
    opt.zero_grad();
    torch::matmul(x, theirs).pow(2).sum().backward();
    opt.step();
    torch::matmul(x, mine[0]).pow(2).sum().backward();
    adamw_step(mine, m1, m2, s, lr, 0.1);
  }
  CHECK(torch::allclose(mine[0], theirs, 1e-6, 1e-6));
}

TEST_CASE("lora: a saved adapter loads in HF PEFT with the same logits, and merge writes what transformers loads alike",
          "[train][torch][python][slow]") {
  for (const char* name : {"llama", "phi3"}) {
    INFO(name);
    TempDir tmp;
    fs::path base = ref_dir() / name;
    ModelOptions mo;
    mo.dtype = "fp32";
    mo.device = "cpu";
    mo.tokenizer = false;
    // Train-free: a set with random non-zero B, as training would leave it.
    std::unique_ptr<Model> m = model_load(base, mo);
    LoraSet set;
    LoraOptions o;
    o.rank = 4;
    o.alpha = 8;
    o.rslora = std::string(name) == "phi3";
    lora_attach(m->weights(), set, o);
    {
      torch::NoGradGuard ng;
      torch::manual_seed(2);
      for (LoraTarget& t : set.targets) t.b.copy_(torch::randn(t.b.sizes()) * 0.2);
    }
    lora_save_peft(set, 0, tmp / "adapter", m->config(), base.string());
    json cfg = json::parse(read_bytes(tmp / "adapter" / "adapter_config.json"));
    CHECK(cfg["peft_type"] == "LORA");
    CHECK_FALSE(cfg.contains("n_adapters"));
    Checkpoint ck(tmp / "adapter", "adapter_model.safetensors");
    CHECK(ck.find(std::string("base_model.model.model.layers.0.self_attn.") + (m->config().fused_qkv ? "qkv_proj" : "q_proj") + ".lora_A.weight"));

    std::vector<int32_t> ids;
    for (int i = 0; i < 20; ++i) ids.push_back(3 + (i * 37) % 190);
    write_bytes(tmp / "ids.json", json(ids).dump());
    REQUIRE(run_command(shell_quote(SLMIFY_BINARY) + " -q merge --base " + shell_quote(base.string()) + " --adapter " +
                        shell_quote((tmp / "adapter").string()) + " -o " + shell_quote((tmp / "merged").string()))
                .status == 0);
    fs::path script = fs::path(SLMIFY_SOURCE_DIR) / "tests" / "reference" / "peft_check.py";
    CommandResult r = run_command(shell_quote(python_exe()) + " " + shell_quote(script.string()) + " " + shell_quote(base.string()) + " " +
                                  shell_quote((tmp / "adapter").string()) + " " + shell_quote((tmp / "merged").string()) + " " +
                                  shell_quote((tmp / "ids.json").string()) + " " + shell_quote((tmp / "out.json").string()) + " >&2");
    REQUIRE(r.status == 0);
    json ref = json::parse(read_bytes(tmp / "out.json"));
    CHECK(ref["lora_tensors"] == 2 * set.targets.size());
    CHECK(ref["r"] == 4);

    mo.adapter = (tmp / "adapter").string();
    mo.merge_adapter = false;
    std::unique_ptr<Model> ours = model_load(base, mo);
    std::vector<float> lg = model_logits(*ours, ids);
    std::vector<float> peft = ref["logits_adapter"].get<std::vector<float>>();
    REQUIRE(lg.size() == peft.size());
    double worst = 0, worst_merged = 0;
    for (size_t i = 0; i < lg.size(); ++i) worst = std::max(worst, double(std::abs(lg[i] - peft[i])));
    ModelOptions plain = mo;
    plain.adapter.clear();
    std::unique_ptr<Model> merged = model_load(tmp / "merged", plain);
    std::vector<float> lm = model_logits(*merged, ids);
    std::vector<float> hf_merged = ref["logits_merged"].get<std::vector<float>>();
    for (size_t i = 0; i < lg.size(); ++i) worst_merged = std::max(worst_merged, double(std::abs(lm[i] - hf_merged[i])) + std::abs(lm[i] - peft[i]));
    INFO("max |slmify - PEFT| " << worst << ", merged " << worst_merged);
    CHECK(worst < 1e-4);
    CHECK(worst_merged < 2e-4);
  }
}

#endif
