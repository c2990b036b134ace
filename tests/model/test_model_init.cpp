// `slmify model init` end to end against transformers: the directory it writes loads in
// transformers unchanged (AutoTokenizer, AutoModelForCausalLM), tokenises and renders chats the
// same way (tests/reference/init_reference.py), and `slmify generate` continues like
// transformers' generate. Also the CLI's errors for generate and model info.
#include <catch2/catch.hpp>

#include "../core/test_util.h"
#include "model/backend.h"
#include "model/chat_template.h"
#include "model/model.h"
#include "model/model_info.h"
#include "model/tokenizer.h"

using namespace slmify;
using namespace slmify_test;

#ifdef SLMIFY_HAVE_TORCH

namespace {

std::string slmify_cmd(const std::string& args) { return shell_quote(SLMIFY_BINARY) + " " + args; }

// A model made by `slmify model init` from the quick-start calls, once per test process.
fs::path init_model(TempDir& tmp) {
  fs::path logs = fs::path(SLMIFY_SOURCE_DIR) / "examples" / "quickstart" / "logs";
  REQUIRE(run_command(slmify_cmd("-q collect " + shell_quote(logs.string()) + " -o " + shell_quote((tmp / "calls").string()))).status == 0);
  REQUIRE(run_command(slmify_cmd("-q model init -o " + shell_quote((tmp / "m").string()) + " --from " + shell_quote((tmp / "calls").string()))).status == 0);
  return tmp / "m";
}

// OpenAI logs carry tool-call arguments as JSON strings; transformers' convention is an object.
json openai_form(json messages) {
  for (json& m : messages)
    if (m.contains("tool_calls"))
      for (json& c : m["tool_calls"]) c["function"]["arguments"] = c["function"]["arguments"].dump();
  return messages;
}

}  // namespace

TEST_CASE("model init writes a checkpoint transformers loads, tokenises, renders and continues alike", "[model][torch][python][slow]") {
  TempDir tmp;
  fs::path m = init_model(tmp);
  for (const char* f : {"config.json", "generation_config.json", "model.safetensors", "tokenizer.model", "tokenizer.json", "tokenizer_config.json"})
    CHECK(fs::exists(m / f));
  REQUIRE(run_command(shell_quote(python_exe()) + " " + shell_quote(std::string(SLMIFY_SOURCE_DIR) + "/tests/reference/init_reference.py") + " " +
                      shell_quote(m.string()) + " " + shell_quote((tmp / "ref.json").string()) + " >&2")
              .status == 0);
  json ref = json::parse(read_bytes(tmp / "ref.json"));
  auto model = model_load(m, ModelOptions{.device = "cpu", .dtype = "fp32"});  // transformers runs fp32
  const Tokenizer& tok = model->tokenizer();
  for (size_t i = 0; i < ref["texts"].size(); ++i) {
    std::string text = ref["texts"][i];
    INFO("text " << text);
    // transformers parses special tokens in text; slmify does so only when asked
    CHECK(tok.encode(text, true) == ref["ids"][i].get<TokenIds>());
    CHECK(tok.encode_for_model(text, true) == ref["ids_bos"][i].get<TokenIds>());
  }
  CHECK(tok.encode("<|im_start|>", false) != tok.encode("<|im_start|>", true));  // never parsed in user text
  CHECK(model->chat_template().name == "chatml-tools");
  for (const json& c : ref["chats"]) {
    INFO("conversation " << c["messages"].dump());
    auto segments = chat_render(model->chat_template(), openai_form(c["messages"]), c["tools"], true);
    CHECK(chat_text(segments) == c["text"].get<std::string>());
    ChatTokens ct = chat_encode(tok, segments);
    CHECK(ct.ids == c["ids"].get<TokenIds>());
    GenerateOptions g;
    g.max_new_tokens = 12;
    CHECK(model_generate(*model, ct.ids, g).tokens == c["greedy"].get<TokenIds>());
  }
  json info = model_info(m);
  CHECK(info["chat_template"] == "chatml-tools");
  CHECK(info["tokenizer"]["kind"] == "sentencepiece");
  CHECK(info["parameters"].get<int64_t>() > 100000);
}

TEST_CASE("slmify generate streams what --json reports and refuses bad arguments clearly", "[model][torch][cli][slow]") {
  TempDir tmp;
  fs::path m = init_model(tmp);
  std::string base = "-q generate --model " + shell_quote(m.string()) + " --max-new-tokens 10 --temperature 0.8 --seed 3 ";
  CommandResult js = run_command(slmify_cmd(base + "--prompt 'Where is my order?' --json"));
  REQUIRE(js.status == 0);
  json j = json::parse(js.out);
  CHECK(j["tokens"].size() >= 1);
  CommandResult streamed = run_command(slmify_cmd(base + "--prompt 'Where is my order?'"));
  REQUIRE(streamed.status == 0);
  CHECK(streamed.out == j["text"].get<std::string>() + "\n");
  write_bytes(tmp / "msgs.json", R"({"messages": [{"role": "system", "content": "Route tickets."}, {"role": "user", "content": "Refund please"}]})");
  CHECK(run_command(slmify_cmd(base + "--messages " + shell_quote((tmp / "msgs.json").string()) + " --json")).status == 0);
  CHECK(run_command(slmify_cmd(base + "--raw --prompt 'plain text' --json")).status == 0);
  CHECK(run_command(slmify_cmd(base + " 2>/dev/null")).status == 2);                                     // no prompt
  CHECK(run_command(slmify_cmd(base + "--raw --messages x.json 2>/dev/null")).status == 2);              // --raw needs --prompt
  CHECK(run_command(slmify_cmd("-q generate --model /nonexistent --prompt hi 2>/dev/null")).status == 4);  // no model
  if (!backend_info().cuda_available)
    CHECK(run_command(slmify_cmd("-q generate --model " + shell_quote(m.string()) + " --device cuda --prompt hi 2>/dev/null")).status == 2);
  CommandResult info = run_command(slmify_cmd("model info " + shell_quote(m.string())));
  CHECK(info.status == 0);
  CHECK(info.out.find("chat template:  chatml-tools") != std::string::npos);
  CHECK(run_command(slmify_cmd("-q model info " + shell_quote(tmp.path().string()) + " 2>/dev/null")).status == 4);
}

#endif  // SLMIFY_HAVE_TORCH
