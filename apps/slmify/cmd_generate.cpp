// slmify generate: text from a model (and optional LoRA adapter), streamed to stdout.
#include <cstdio>
#include <iostream>

#include "command.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "model/gguf.h"
#include "model/model.h"

namespace slmify::cli {

namespace {
struct GenerateState {
  ModelOptions model;
  std::string dir, prompt, messages_file;
  bool raw = false, json = false;
  GenerateOptions gen;
  std::vector<std::string> stops;
};

// {"messages": [...], "tools": [...]} or a bare array of messages, OpenAI-style.
void read_messages(const std::string& path, json& messages, json& tools) {
  json j;
  try {
    j = json::parse(read_file(path));
  } catch (const json::exception& e) {
    throw_usage(path, std::string("not valid JSON: ") + e.what(), "--messages takes a JSON array of {role, content} messages, or {\"messages\": [...], \"tools\": [...]}");
  }
  if (j.is_object() && j.contains("request")) j = j["request"];  // a dataset record
  if (j.is_array()) {
    messages = j;
  } else if (j.is_object() && j.contains("messages")) {
    messages = j["messages"];
    if (j.contains("tools")) tools = j["tools"];
  } else {
    throw_usage(path, "has no messages", "--messages takes a JSON array of {role, content} messages, or {\"messages\": [...], \"tools\": [...]}");
  }
  if (!messages.is_array() || messages.empty()) throw_usage(path, "messages must be a non-empty array");
}
}  // namespace

void register_generate(CLI::App& app, Store& store) {
  GenerateState& st = keep<GenerateState>(store);
  CLI::App* g = app.add_subcommand("generate", "generate text with a model (and a LoRA adapter), streaming to stdout");
  g->add_option("--model", st.dir, "Hugging Face model directory, or a .gguf file (imported once into the cache)")->required();
  g->add_option("--adapter", st.model.adapter, "PEFT LoRA adapter directory");
  auto* p = g->add_option("--prompt", st.prompt, "the user's message (or, with --raw, the whole prompt)");
  auto* m = g->add_option("--messages", st.messages_file, "JSON file: an array of messages, or {messages, tools}, or a dataset record");
  p->excludes(m);
  g->add_flag("--raw", st.raw, "feed --prompt as plain text without a chat template (BOS as the tokenizer config says)");
  g->add_option("--chat-template", st.model.chat_template, "template name instead of the one recognised in tokenizer_config.json");
  g->add_option("--max-new-tokens", st.gen.max_new_tokens, "most tokens to generate")->capture_default_str();
  g->add_option("--temperature", st.gen.temperature, "0 is greedy")->capture_default_str();
  g->add_option("--top-k", st.gen.top_k, "sample among the k most likely tokens (0: off)")->capture_default_str();
  g->add_option("--top-p", st.gen.top_p, "sample within this probability mass (1: off)")->capture_default_str();
  g->add_option("--repetition-penalty", st.gen.repetition_penalty, "penalise tokens already seen (1: off)")->capture_default_str();
  g->add_option("--stop", st.stops, "stop when the text contains this string (repeatable)");
  g->add_option("--seed", st.gen.seed, "sampling seed")->capture_default_str();
  g->add_option("--device", st.model.device, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}))->capture_default_str();
  g->add_option("--dtype", st.model.dtype, "auto (bf16 on CUDA and on CPUs with native bf16, else fp32), fp32 or bf16")
      ->check(CLI::IsMember({"auto", "fp32", "bf16"}))
      ->capture_default_str();
  g->add_flag("--json", st.json, "print {\"text\", \"tokens\", …} at the end instead of streaming");
  g->callback([&st]() {
    if (st.prompt.empty() && st.messages_file.empty()) throw_usage("generate", "needs --prompt or --messages");
    if (st.raw && !st.messages_file.empty()) throw_usage("--raw", "works with --prompt only", "drop --raw to render --messages with the chat template");
    if (st.gen.temperature < 0) throw_usage("--temperature", "must be >= 0");
    if (st.gen.top_p <= 0 || st.gen.top_p > 1) throw_usage("--top-p", "must be in (0, 1]");
    st.gen.stop_strings = st.stops;
    auto model = model_load(resolve_model_path(st.dir), st.model);
    TokenIds prompt;
    if (st.raw) {
      prompt = model->tokenizer().encode_for_model(st.prompt);
    } else {
      json messages, tools;
      if (st.messages_file.empty()) messages = json::array({{{"role", "user"}, {"content", st.prompt}}});
      else read_messages(st.messages_file, messages, tools);
      prompt = chat_encode(model->tokenizer(), chat_render(model->chat_template(), messages, tools, true)).ids;
    }
    auto stream = [&](std::string_view s) {
      std::fwrite(s.data(), 1, s.size(), stdout);
      std::fflush(stdout);
    };
    GenerateResult r = st.json ? model_generate(*model, prompt, st.gen) : model_generate(*model, prompt, st.gen, stream);
    if (!st.json) {
      std::cout << "\n";  // end the streamed text before the timings on stderr
      std::cout.flush();
    }
    const double n = double(r.tokens.size());
    log_info("generate: " + std::to_string(prompt.size()) + " prompt tokens in " + std::to_string(r.prefill_seconds) + " s, " +
             std::to_string(r.tokens.size()) + " new in " + std::to_string(r.decode_seconds) + " s (" +
             std::to_string(r.decode_seconds > 0 ? n / r.decode_seconds : 0.0) + " tokens/s) on " + model->device() + " " + model->dtype() +
             ", finish: " + r.finish_reason);
    if (st.json)
      print_json({{"text", r.text}, {"tokens", r.tokens}, {"finish_reason", r.finish_reason}, {"prompt_tokens", prompt.size()},
                  {"device", model->device()}, {"dtype", model->dtype()}});
  });
}

}  // namespace slmify::cli
