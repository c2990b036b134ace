// Autograd smoke test through libtorch (CPU).
#include <torch/types.h>
#include <torch/autograd.h>

#include "core/error.h"
#include "train/train.h"

namespace slmify {

std::vector<double> train_autograd_smoke(const std::vector<double>& w, const std::vector<double>& x) {
  SLMIFY_ASSERT(w.size() == x.size(), "w and x differ in length");
  int64_t n = static_cast<int64_t>(w.size());
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  torch::Tensor tw = torch::from_blob(const_cast<double*>(w.data()), {n}, opts).clone().requires_grad_(true);  // [n]
  torch::Tensor tx = torch::from_blob(const_cast<double*>(x.data()), {n}, opts).clone();                      // [n]
  torch::Tensor loss = (tw * tx).sum().pow(2);                                                               // []
  loss.backward();
  torch::Tensor g = tw.grad().contiguous();
  return std::vector<double>(g.data_ptr<double>(), g.data_ptr<double>() + n);
}

}  // namespace slmify
