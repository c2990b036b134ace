// lib/model/encoder.h without libtorch (-DSLMIFY_WITH_TORCH=OFF): loading and running an encoder
// reports that the backend is missing, like model_none.cpp. Tested by building without torch.
#include "core/error.h"
#include "model/encoder.h"

namespace slmify {

struct EncoderWeights {};

namespace {
[[noreturn]] void no_torch() {
  throw Error(ExitCode::unavailable, "", "this slmify was built without libtorch, so it cannot run sentence encoders",
              "rebuild with -DSLMIFY_WITH_TORCH=ON (scripts/bootstrap installs libtorch)");
}
}  // namespace

Encoder::Encoder() = default;
Encoder::~Encoder() = default;
int Encoder::dim() const { no_torch(); }
int64_t Encoder::max_tokens() const { no_torch(); }
std::string Encoder::device() const { no_torch(); }
std::string Encoder::dtype() const { no_torch(); }
std::unique_ptr<Encoder> encoder_load(const std::filesystem::path&, const EncoderOptions&) { no_torch(); }
TokenIds encoder_tokenize(const Encoder&, std::string_view, int64_t) { no_torch(); }
std::vector<float> encoder_embed(Encoder&, const std::vector<std::string>&, int, int64_t) { no_torch(); }

}  // namespace slmify
