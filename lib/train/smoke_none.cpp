// lib/train without libtorch (-DSLMIFY_WITH_TORCH=OFF).
#include "core/error.h"
#include "train/train.h"

namespace slmify {

std::vector<double> train_autograd_smoke(const std::vector<double>&, const std::vector<double>&) {
  throw Error(ExitCode::unavailable, "", "this slmify was built without libtorch", "rebuild with -DSLMIFY_WITH_TORCH=ON");
}

}  // namespace slmify
