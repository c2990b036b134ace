// eval's answers from real models through lib/model: the request rendered with the model's chat
// template (tools included, generation prompt added), a left-padded greedy batch, and the time it
// took. Without libtorch, model_load reports that models cannot run (exit 6).
// Tested end to end by tests/eval/test_eval_e2e.cpp ([torch][slow]).
#include <chrono>

#include "core/error.h"
#include "core/log.h"
#include "eval/eval.h"
#include "model/model.h"

namespace slmify {

namespace {

class ModelBackend : public EvalBackend {
 public:
  explicit ModelBackend(const EvalConfig& c) : config_(c) {}

  void load(const EvalModelSpec& spec) override {
    model_.reset();
    ModelOptions o;
    o.device = config_.device;
    std::string dir = spec.base;
    if (spec.method == "full") dir = spec.adapter_dir;
    else o.adapter = spec.adapter_dir;
    o.chat_template_dir = spec.template_dir;
    model_ = model_load(dir, o);
    const ChatFamily f = model_->chat_template().family;
    format_ = f == ChatFamily::llama3 || f == ChatFamily::mistral ? ToolCallFormat::bare_json : ToolCallFormat::tags;
  }

  ToolCallFormat tool_call_format() const override { return format_; }
  std::string device() const override { return model_ ? model_->device() + " " + model_->dtype() : config_.device; }

  std::vector<EvalGeneration> generate(const std::vector<const json*>& records, int64_t max_new_tokens) override {
    SLMIFY_ASSERT(model_ != nullptr, "eval backend: generate before load");
    std::vector<EvalGeneration> out(records.size());
    std::vector<TokenIds> prompts;
    std::vector<size_t> index;
    const int64_t context = model_->config().max_position_embeddings;
    for (size_t i = 0; i < records.size(); ++i) {
      const json& req = (*records[i])["request"];
      try {
        TokenIds ids = chat_encode(model_->tokenizer(), chat_render(model_->chat_template(), req["messages"],
                                                                    req.value("tools", json()), true)).ids;
        out[i].prompt_tokens = static_cast<int64_t>(ids.size());
        if (context > 0 && static_cast<int64_t>(ids.size()) + max_new_tokens > context) {
          out[i].finish_reason = "error";
          out[i].error = "the prompt of " + std::to_string(ids.size()) + " tokens and " + std::to_string(max_new_tokens) +
                         " new tokens do not fit the model's context of " + std::to_string(context);
          continue;
        }
        prompts.push_back(std::move(ids));
        index.push_back(i);
      } catch (const Error& e) {
        out[i].finish_reason = "error";
        out[i].error = e.problems().empty() ? "cannot render the request" : e.problems()[0].what;
      }
    }
    if (prompts.empty()) return out;
    GenerateOptions g;
    g.max_new_tokens = max_new_tokens;
    g.temperature = 0;
    auto t0 = std::chrono::steady_clock::now();
    std::vector<GenerateResult> res = model_generate_batch(*model_, prompts, g);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (size_t k = 0; k < res.size(); ++k) {
      EvalGeneration& e = out[index[k]];
      e.text = res[k].text;
      e.finish_reason = res[k].finish_reason;
      e.new_tokens = static_cast<int64_t>(res[k].tokens.size());
      e.seconds = seconds;
    }
    return out;
  }

 private:
  EvalConfig config_;
  std::unique_ptr<Model> model_;
  ToolCallFormat format_ = ToolCallFormat::tags;
};

}  // namespace

std::unique_ptr<EvalBackend> eval_model_backend(const EvalConfig& config) { return std::make_unique<ModelBackend>(config); }

}  // namespace slmify
