// The probe: zero-shot loss per token of the LLM's answers on a cluster's eval-split calls, each
// rendered with the candidate's own chat template (tools included), through the torch-free API
// of lib/model (model_load, chat_render, chat_encode, model_masked_nll). In a build without
// libtorch model_load throws ExitCode::unavailable and the probe is skipped with that reason.
// Tested by tests/select/test_select.cpp ("probe ordering", [torch]).
#include <memory>

#include "core/error.h"
#include "core/log.h"
#include "model/chat_template.h"
#include "model/gguf.h"
#include "model/model.h"
#include "select/select_internal.h"

namespace slmify {

using json = nlohmann::json;

namespace {

std::string first_what(const Error& e) { return e.problems().empty() ? std::string(e.what()) : e.problems().front().what; }

// The call as a conversation that ends with the LLM's answer.
json conversation(const json& rec, json& tools) {
  const json& req = rec["request"];
  json messages = req.contains("messages") && req["messages"].is_array() ? req["messages"] : json::array();
  tools = req.contains("tools") && req["tools"].is_array() ? req["tools"] : json();
  const json& r = rec["response"];
  json answer = {{"role", "assistant"}, {"content", r.contains("content") && r["content"].is_string() ? r["content"] : json()}};
  if (r.contains("tool_calls") && r["tool_calls"].is_array() && !r["tool_calls"].empty()) answer["tool_calls"] = r["tool_calls"];
  messages.push_back(answer);
  return messages;
}

void skip_all(std::vector<ProbeTarget>& targets, const std::string& why) {
  for (ProbeTarget& t : targets) t.candidate->probe.skipped = why;
}

}  // namespace

void select_probe(const SelectConfig& sc, const CatalogEntry& e, std::vector<ProbeTarget>& targets) {
  if (targets.empty()) return;
  if (!sc.probe) return skip_all(targets, "select.probe is off");
  std::unique_ptr<Model> m;
  try {
    m = model_load(resolve_model_path(e.path), ModelOptions{.device = sc.device, .dtype = sc.dtype});
  } catch (const Error& ex) {
    if (ex.code() == ExitCode::unavailable) return skip_all(targets, "this slmify was built without libtorch, so it cannot run models");
    log_warn("select: cannot probe " + e.id + " (" + e.path + "): " + first_what(ex));
    return skip_all(targets, "the model did not load: " + first_what(ex));
  }
  const ChatTemplate* tmpl = nullptr;
  try {
    tmpl = &m->chat_template();
  } catch (const Error& ex) {
    return skip_all(targets, "no chat template: " + first_what(ex));
  }
  const Tokenizer& tok = m->tokenizer();
  for (ProbeTarget& t : targets) {
    PlanProbe& p = t.candidate->probe;
    if (t.cluster->probe_calls.empty()) {
      p.skipped = "the cluster has no eval-split calls";
      continue;
    }
    double nll = 0;
    int64_t too_long = 0, unrenderable = 0;
    std::string render_error;
    for (const json& rec : t.cluster->probe_calls) {
      ChatTokens ct;
      try {
        json tools;
        json messages = conversation(rec, tools);
        ct = chat_encode(tok, chat_render(*tmpl, messages, tools, false));
      } catch (const Error& ex) {
        ++unrenderable;
        if (render_error.empty()) render_error = first_what(ex);
        continue;
      }
      if (static_cast<int64_t>(ct.ids.size()) > sc.probe_max_tokens) {
        ++too_long;
        continue;
      }
      MaskedNll r = model_masked_nll(*m, ct.ids, ct.assistant_mask);
      if (r.tokens == 0) continue;
      nll += r.nll_sum;
      p.tokens += r.tokens;
      ++p.calls;
    }
    if (p.tokens == 0) {
      p.skipped = "no call could be scored (" + std::to_string(too_long) + " longer than probe_max_tokens, " + std::to_string(unrenderable) +
                  " not expressible in the " + tmpl->name + " template" + (render_error.empty() ? "" : ": " + render_error) + ")";
      continue;
    }
    p.ran = true;
    p.loss_per_token = nll / static_cast<double>(p.tokens);
    if (too_long || unrenderable)
      t.candidate->reasons.push_back("probe: scored " + std::to_string(p.calls) + " calls; " + std::to_string(too_long) + " longer than probe_max_tokens and " +
                  std::to_string(unrenderable) + " not expressible in the template were left out");
    log_info("select: probe of " + e.id + " on cluster " + std::to_string(t.cluster->id) + ": " + std::to_string(p.loss_per_token).substr(0, 6) +
             " nats/token over " + std::to_string(p.tokens) + " tokens of " + std::to_string(p.calls) + " calls");
  }
}

}  // namespace slmify
