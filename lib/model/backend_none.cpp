// lib/model without libtorch (-DSLMIFY_WITH_TORCH=OFF): reports that the backend is missing.
#include "core/error.h"
#include "model/backend.h"

namespace slmify {

BackendInfo backend_info() { return BackendInfo{}; }
int backend_set_threads(int) { return 0; }
std::vector<float> backend_matmul(const std::vector<float>&, const std::vector<float>&, int, const std::string&) {
  throw Error(ExitCode::unavailable, "", "this slmify was built without libtorch", "rebuild with -DSLMIFY_WITH_TORCH=ON");
}

}  // namespace slmify
