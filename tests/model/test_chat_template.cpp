// Chat templates checked against independent references: the real Jinja templates of each family
// (tests/fixtures/chat_templates/, see its README) rendered by transformers through
// tests/reference/chat_reference.py, Mistral's published v3/tekken tool-calling strings, and
// recognition of the real template sources. chat_encode runs on a fake tokenizer defined here.
#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "../core/test_util.h"
#include "core/error.h"
#include "model/chat_template.h"

using namespace slmify;
using slmify_test::json;

namespace {

const std::string fixtures = std::string(SLMIFY_SOURCE_DIR) + "/tests/fixtures/chat_templates/";

std::string fixture(const std::string& name) { return slmify_test::read_bytes(fixtures + name); }

std::vector<ChatSegment> render(const std::string& name, const json& messages, const json& tools = nullptr,
                                bool gen = false) {
  return chat_render(chat_template_named(name), messages, tools, gen);
}

json user(const std::string& s) { return {{"role", "user"}, {"content", s}}; }
json assistant(const std::string& s) { return {{"role", "assistant"}, {"content", s}}; }
json system_msg(const std::string& s) { return {{"role", "system"}, {"content", s}}; }

// The token a family ends an assistant reply with; every assistant segment ends with it.
std::string end_of_turn(const std::string& name) {
  if (name == "qwen2.5" || name == "qwen2" || name == "smollm2" || name == "hermes" || name == "chatml")
    return "<|im_end|>";
  if (name.rfind("llama3", 0) == 0) return "<|eot_id|>";
  if (name == "phi3") return "<|end|>";
  if (name == "gemma") return "<end_of_turn>";
  return "</s>";  // llama2, mistral
}

}  // namespace

TEST_CASE("chat template names, aliases and unknown names", "[chat]") {
  const std::vector<std::string> names = chat_template_names();
  REQUIRE(names.size() == 14);
  for (const std::string& n : names) CHECK(chat_template_named(n).name == n);
  CHECK(chat_template_named("llama3.2").name == "llama3.1");
  CHECK(chat_template_named("phi3.5").name == "phi3");
  CHECK(chat_template_named("mistral-nemo").name == "mistral-v3-tekken");
  CHECK(chat_template_named("qwen2.5").default_system ==
        "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
  CHECK(chat_template_named("llama3.1").date_string == "26 Jul 2024");
  const Error e = slmify_test::expect_error([] { chat_template_named("vicuna"); });
  CHECK(e.code() == ExitCode::usage);
  CHECK(e.problems()[0].hint.find("qwen2.5") != std::string::npos);
}

TEST_CASE("chat_template_detect recognises the real templates", "[chat]") {
  const std::map<std::string, std::string> expect = {
      {"Qwen-Qwen2.5-7B-Instruct.jinja", "qwen2.5"},
      {"Qwen-Qwen2-0.5B-Instruct.jinja", "qwen2"},
      {"HuggingFaceTB-SmolLM2-135M-Instruct.jinja", "smollm2"},
      {"NousResearch-Hermes-3-Llama-3.1-70B-default.jinja", "hermes"},
      {"NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", "hermes"},
      {"meta-llama-Llama-2-7b-chat.jinja", "llama2"},
      {"meta-llama-Meta-Llama-3-8B-Instruct.jinja", "llama3"},
      {"meta-llama-Llama-3.1-8B-Instruct.jinja", "llama3.1"},
      {"meta-llama-Llama-3.2-3B-Instruct.jinja", "llama3.1"},
      {"mistralai-Mistral-7B-Instruct-v0.2.jinja", "mistral-v1"},
      {"mistralai-Mistral-7B-Instruct-v0.3.jinja", "mistral-v3"},
      {"mistralai-Mistral-Nemo-Instruct-2407.jinja", "mistral-v3-tekken"},
      {"microsoft-Phi-3.5-mini-instruct.jinja", "phi3"},
      {"microsoft-Phi-3-mini-4k-instruct.jinja", "phi3"},
      {"google-gemma-2-2b-it.jinja", "gemma"},
  };
  for (const auto& [file, name] : expect) {
    INFO(file);
    CHECK(chat_template_detect(fixture(file), "llama").name == name);
  }
  // Mistral's published v3 basic template (mistralai/cookbook concept-deep-dive/tokenization/templates.md).
  CHECK(chat_template_detect("{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
                             "{{ '[INST] ' + message['content'] + '[/INST]' }}{% elif message['role'] == "
                             "'assistant' %}{{ ' ' + message['content'] + eos_token }}{% endif %}{% endfor %}",
                             "mistral")
            .name == "mistral-v3");
  CHECK(chat_template_detect(fixture("NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja"), "mistral").bos_token ==
        "<s>");
  CHECK(chat_template_detect(fixture("NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja"), "llama").default_system ==
        "");
  CHECK(chat_template_detect("{% for m in messages %}<|im_start|>{{ m.role }}{% endfor %}", "").name == "chatml");
  const ChatTemplate bos_chatml =
      chat_template_detect("{{bos_token}}{% for m in messages %}<|im_start|>{{ m.role }}{% endfor %}", "mistral");
  CHECK(bos_chatml.name == "hermes");
  CHECK(bos_chatml.bos_token == "<s>");
  CHECK(bos_chatml.default_system.empty());
  CHECK(slmify_test::expect_error([] { chat_template_detect("<|im_start|>{{ '<think>' }}", "qwen3"); }).code() ==
        ExitCode::usage);
  CHECK(slmify_test::expect_error([] { chat_template_detect("[SYSTEM_PROMPT][INST]", "mistral"); }).code() ==
        ExitCode::usage);
  CHECK(slmify_test::expect_error([] { chat_template_detect("### Human: {{ x }}", "gpt2"); }).code() ==
        ExitCode::usage);
  CHECK(slmify_test::expect_error([] { chat_template_detect("", "llama"); }).code() == ExitCode::usage);
}

TEST_CASE("chat_render equals the real templates rendered by transformers", "[chat][python]") {
  slmify_test::TempDir tmp;
  const std::string out = (tmp / "chat_reference.json").string();
  const std::string cmd = slmify_test::shell_quote(slmify_test::python_exe()) + " " +
                          slmify_test::shell_quote(std::string(SLMIFY_SOURCE_DIR) + "/tests/reference/chat_reference.py") +
                          " " + slmify_test::shell_quote(fixtures) + " " + slmify_test::shell_quote(out);
  const slmify_test::CommandResult r = slmify_test::run_command(cmd);
  INFO(cmd);
  REQUIRE(r.status == 0);
  const json ref = json::parse(slmify_test::read_bytes(out));
  const json& cases = ref.at("cases");
  REQUIRE(cases.size() >= 138);
  size_t passed = 0;
  for (const json& c : cases) {
    const std::string name = c.at("name").get<std::string>();
    INFO(c.at("template").get<std::string>() + " x " + c.at("conversation").get<std::string>());
    const std::vector<ChatSegment> segs =
        render(name, c.at("messages"), c.at("tools"), c.at("add_generation_prompt").get<bool>());
    const std::string text = chat_text(segs);
    CHECK(text == c.at("expected").get<std::string>());
    bool ok = text == c.at("expected").get<std::string>();
    // The mask rule: every assistant segment belongs to an assistant message and ends with the
    // family's end-of-turn token; every assistant message of the input has one.
    size_t replies = 0;
    for (const ChatSegment& s : segs) {
      if (!s.assistant) continue;
      ++replies;
      REQUIRE(s.message >= 0);
      CHECK(c.at("messages")[static_cast<size_t>(s.message)].at("role") == "assistant");
      const std::string eot = end_of_turn(name);
      CHECK(s.text.size() >= eot.size());
      CHECK(s.text.compare(s.text.size() - eot.size(), eot.size(), eot) == 0);
      ok = ok && s.text.size() >= eot.size() && s.text.compare(s.text.size() - eot.size(), eot.size(), eot) == 0;
    }
    size_t assistant_messages = 0;
    for (const json& m : c.at("messages")) assistant_messages += m.at("role") == "assistant";
    CHECK(replies == assistant_messages);
    passed += ok && replies == assistant_messages;
  }
  CHECK(passed == cases.size());
  WARN(std::to_string(passed) + " of " + std::to_string(cases.size()) + " template x conversation cases match");
}

TEST_CASE("Mistral v3 and v3-tekken tool calling equals Mistral's published strings", "[chat]") {
  // mistralai/cookbook concept-deep-dive/tokenization/tool_calling.md, "Final String Representation".
  const json tools = json::parse(R"([{"type": "function", "function": {"name": "calculator",
      "description": "Performs mathematical calculations", "parameters": {"type": "object", "properties":
      {"operation": {"type": "string", "description": "The operation to be done in python format."}},
      "required": ["operation"]}}}])");
  const json messages = json::parse(R"([{"role": "user", "content": "What's 2+2?"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "VvvODy9mT", "type": "function",
        "function": {"name": "calculator", "arguments": "{\"operation\": \"2+2\", \"format\": \"celsius\"}"}}]},
      {"role": "tool", "tool_call_id": "VvvODy9mT", "content": "4"},
      {"role": "assistant", "content": "2+2=4"}])");
  const std::string tool_def =
      R"([{"type": "function", "function": {"name": "calculator", "description": "Performs mathematical calculations", "parameters": {"type": "object", "properties": {"operation": {"type": "string", "description": "The operation to be done in python format."}}, "required": ["operation"]}}}])";
  const std::string call = R"([{"name": "calculator", "arguments": {"format": "celsius", "operation": "2+2"}, "id": "VvvODy9mT"}])";
  CHECK(chat_text(render("mistral-v3", messages, tools)) ==
        "<s>[AVAILABLE_TOOLS] " + tool_def + "[/AVAILABLE_TOOLS][INST] What's 2+2?[/INST][TOOL_CALLS] " + call +
            R"(</s>[TOOL_RESULTS] {"content": 4, "call_id": "VvvODy9mT"}[/TOOL_RESULTS] 2+2=4</s>)");
  CHECK(chat_text(render("mistral-v3-tekken", messages, tools)) ==
        "<s>[AVAILABLE_TOOLS]" + tool_def + "[/AVAILABLE_TOOLS][INST]What's 2+2?[/INST][TOOL_CALLS]" + call +
            R"(</s>[TOOL_RESULTS]{"content": 4, "call_id": "VvvODy9mT"}[/TOOL_RESULTS]2+2=4</s>)");
  // The basic v3 string of templates.md, and the system prompt in the last user turn.
  const json chat = json::array({system_msg("Be kind."), user("Hello, how are you?"), assistant("Fine, and you?"),
                                 user("I'm doing great!"), assistant("Glad to hear!")});
  CHECK(chat_text(render("mistral-v3", chat)) ==
        "<s>[INST] Hello, how are you?[/INST] Fine, and you?</s>[INST] Be kind.\n\nI'm doing great![/INST] Glad to "
        "hear!</s>");
  CHECK(chat_text(render("mistral-v1", chat)) ==
        "<s> [INST] Be kind.\n\nHello, how are you? [/INST] Fine, and you?</s> [INST] I'm doing great! [/INST] Glad "
        "to hear!</s>");
}

TEST_CASE("assistant segments are the reply and its end-of-turn token, not the header", "[chat]") {
  const json chat = json::array({system_msg("S"), user("Q"), assistant("A")});
  const std::map<std::string, std::string> reply = {
      {"qwen2.5", "A<|im_end|>"},      {"smollm2", "A<|im_end|>"}, {"llama2", " A </s>"},
      {"llama3", "A<|eot_id|>"},       {"llama3.1", "A<|eot_id|>"}, {"mistral-v1", " A</s>"},
      {"mistral-v3", " A</s>"},        {"mistral-v3-tekken", "A</s>"}, {"phi3", "A<|end|>"},
      {"gemma", "A<end_of_turn>"},     {"hermes", "A<|im_end|>"},  {"chatml", "A<|im_end|>"},
      {"qwen2", "A<|im_end|>"}};
  for (const auto& [name, want] : reply) {
    INFO(name);
    const std::vector<ChatSegment> segs = render(name, chat);
    std::vector<ChatSegment> replies;
    for (const ChatSegment& s : segs)
      if (s.assistant) replies.push_back(s);
    REQUIRE(replies.size() == 1);
    CHECK(replies[0].text == want);
    CHECK(replies[0].message == 2);
  }
  // A tool-calling turn: the calls are the reply; the header and the tool results are not.
  const json calls = json::array(
      {user("Weather?"),
       {{"role", "assistant"},
        {"content", nullptr},
        {"tool_calls", json::array({{{"id", "c1"},
                                     {"type", "function"},
                                     {"function", {{"name", "w"}, {"arguments", "{\"city\":\"Oslo\"}"}}}}})}},
       {{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "cold"}},
       assistant("Cold.")});
  const json tools = json::array({{{"type", "function"}, {"function", {{"name", "w"}, {"parameters", json::object()}}}}});
  const std::vector<ChatSegment> segs = render("qwen2.5", calls, tools);
  std::vector<std::string> replies;
  for (const ChatSegment& s : segs)
    if (s.assistant) replies.push_back(s.text);
  REQUIRE(replies.size() == 2);
  CHECK(replies[0] == "<tool_call>\n{\"name\": \"w\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call><|im_end|>");
  CHECK(replies[1] == "Cold.<|im_end|>");
}

TEST_CASE("what a family cannot express is a bad_data error", "[chat]") {
  const json tools = json::array({{{"type", "function"}, {"function", {{"name", "f"}}}}});
  const json plain = json::array({user("hi"), assistant("yo")});
  for (const std::string name : {"llama2", "llama3", "phi3", "gemma", "smollm2", "mistral-v1", "chatml", "qwen2"}) {
    INFO(name);
    const Error e = slmify_test::expect_error([&] { render(name, plain, tools); });
    CHECK(e.code() == ExitCode::bad_data);
    CHECK(e.problems()[0].hint.find("tool format") != std::string::npos);
  }
  auto call = [](const std::string& id) {
    return json{{"id", id}, {"type", "function"}, {"function", {{"name", "f"}, {"arguments", "{}"}}}};
  };
  const json parallel = json::array(
      {user("x"), {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array({call("a"), call("b")})}}});
  CHECK(slmify_test::expect_error([&] { render("llama3.1", parallel, tools); }).code() == ExitCode::bad_data);
  CHECK_NOTHROW(render("qwen2.5", parallel, tools));
  const json twice = json::array({user("a"), user("b"), assistant("c")});
  for (const std::string name : {"llama2", "gemma", "mistral-v1", "mistral-v3"})
    CHECK(slmify_test::expect_error([&] { render(name, twice); }).code() == ExitCode::bad_data);
  CHECK_NOTHROW(render("qwen2.5", twice));
  const json cut = json::array(
      {user("x"),
       {{"role", "assistant"},
        {"tool_calls", json::array({{{"function", {{"name", "f"}, {"arguments", "{\"a\": 1"}}}}})}}});
  const Error e = slmify_test::expect_error([&] { render("qwen2.5", cut, tools); });
  CHECK(e.problems()[0].where == "messages[1]");
  CHECK(slmify_test::expect_error([&] { render("qwen2.5", json::array({{{"role", "bot"}, {"content", "x"}}})); })
            .code() == ExitCode::bad_data);
  CHECK(slmify_test::expect_error([&] { render("qwen2.5", json::array()); }).code() == ExitCode::bad_data);
  // Gemma has no system role: it is folded into the first user turn instead of failing.
  CHECK(chat_text(render("gemma", json::array({system_msg("Be brief."), user("Hi"), assistant("Hello")}))) ==
        "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello<end_of_turn>\n");
}

namespace {

// Bytes are ids 0-255, the specials below 256+k; optionally a "dummy prefix" id at the start of
// every encode call (as sentencepiece adds "▁") and "\n\n" merged into one id (a merge that can
// cross a segment boundary).
class FakeTokenizer : public Tokenizer {
 public:
  static constexpr int32_t dummy = 400, newlines = 401;
  bool add_dummy = false, merge_newlines = false;
  const std::vector<std::string> specials = {"<|im_start|>", "<|im_end|>", "<s>", "</s>"};

  TokenIds encode(std::string_view text, bool parse_special = false) const override {
    TokenIds ids;
    if (add_dummy && !text.empty()) ids.push_back(dummy);
    size_t i = 0;
    while (i < text.size()) {
      bool matched = false;
      for (size_t k = 0; parse_special && k < specials.size() && !matched; ++k) {
        if (text.substr(i, specials[k].size()) == specials[k]) {
          ids.push_back(256 + static_cast<int32_t>(k));
          i += specials[k].size();
          matched = true;
        }
      }
      if (matched) continue;
      if (merge_newlines && text.substr(i, 2) == "\n\n") {
        ids.push_back(newlines);
        i += 2;
        continue;
      }
      ids.push_back(static_cast<unsigned char>(text[i++]));
    }
    return ids;
  }
  std::string decode(std::span<const int32_t> ids, bool = false) const override {
    std::string s;
    for (int32_t id : ids) s += piece(id);
    return s;
  }
  int32_t vocab_size() const override { return 402; }
  std::optional<int32_t> token_id(std::string_view) const override { return std::nullopt; }
  std::string token_text(int32_t id) const override { return piece(id); }
  bool is_special(int32_t id) const override { return id >= 256; }
  std::string kind() const override { return "fake"; }

  std::string piece(int32_t id) const {
    if (id < 256) return std::string(1, static_cast<char>(id));
    if (id == dummy) return "";
    if (id == newlines) return "\n\n";
    return specials[static_cast<size_t>(id - 256)];
  }
};

// The mask the rule implies: a token is the assistant's when the segment holding its last byte is
// (a zero-length token: the segment at its position).
std::vector<uint8_t> expected_mask(const FakeTokenizer& tok, const TokenIds& ids, const std::vector<ChatSegment>& segs) {
  std::vector<uint8_t> byte_flag;
  for (const ChatSegment& s : segs) byte_flag.insert(byte_flag.end(), s.text.size(), s.assistant ? 1 : 0);
  std::vector<uint8_t> mask;
  size_t pos = 0;
  for (int32_t id : ids) {
    const size_t len = tok.piece(id).size();
    const size_t at = len ? pos + len - 1 : pos;
    mask.push_back(at < byte_flag.size() ? byte_flag[at] : 0);
    pos += len;
  }
  return mask;
}

}  // namespace

TEST_CASE("chat_encode lines ids and the assistant mask up with the segments", "[chat]") {
  const json chat = json::array({system_msg("Be terse."), user("Hi"), assistant("\n\nHello"), user("More"),
                                 assistant("Done.")});
  const std::vector<ChatSegment> segs = render("chatml", chat);
  for (int mode = 0; mode < 3; ++mode) {
    FakeTokenizer tok;
    tok.add_dummy = mode == 1;
    tok.merge_newlines = mode == 2;
    INFO("mode " << mode);
    const ChatTokens t = chat_encode(tok, segs);
    CHECK(t.ids == tok.encode(chat_text(segs), true));  // one encoding of the whole text
    REQUIRE(t.assistant_mask.size() == t.ids.size());
    CHECK(t.assistant_mask == expected_mask(tok, t.ids, segs));
    CHECK(tok.decode(t.ids) == chat_text(segs));
    // Decoding the masked tokens gives the replies: content plus <|im_end|>.
    std::string masked;
    for (size_t i = 0; i < t.ids.size(); ++i)
      if (t.assistant_mask[i]) masked += tok.piece(t.ids[i]);
    // With the "\n\n" merge the header's last "\n" and the reply's first one make one token, which
    // ends in the reply and so is the assistant's.
    CHECK(masked == (mode == 2 ? "\n" : "") + std::string("\n\nHello<|im_end|>Done.<|im_end|>"));
  }
  // A merge across the header/reply boundary ("\n" + "\n\n…"): the straddling token ends in the
  // reply, so it counts as the assistant's.
  FakeTokenizer tok;
  tok.merge_newlines = true;
  const std::vector<ChatSegment> straddle = {{"<|im_start|>assistant\n", false, 0}, {"\nHi<|im_end|>", true, 0}};
  const ChatTokens t = chat_encode(tok, straddle);
  CHECK(t.assistant_mask == expected_mask(tok, t.ids, straddle));
  REQUIRE(t.ids.size() > 10);
  CHECK(t.ids[10] == FakeTokenizer::newlines);
  CHECK(t.assistant_mask[10] == 1);
  CHECK(t.assistant_mask[9] == 0);
}

TEST_CASE("chat_template_choose: auto keeps the model's own template unless it cannot show the calls' tools", "[chat]") {
  const std::string smollm2 = fixture("HuggingFaceTB-SmolLM2-135M-Instruct.jinja");
  const std::string qwen25 = fixture("Qwen-Qwen2.5-7B-Instruct.jinja");
  // SmolLM2's template has no tool format: plain calls keep it, calls with tools fall back.
  ChatTemplateChoice plain = chat_template_choose("auto", smollm2, "llama", false, nullptr);
  CHECK(plain.tpl.name == "smollm2");
  CHECK(plain.jinja == smollm2);
  CHECK(plain.note.empty());
  ChatTemplateChoice tools = chat_template_choose("auto", smollm2, "llama", true, nullptr);
  CHECK(tools.tpl.name == "chatml-tools");
  CHECK(chat_template_shows_tools(tools.tpl));
  CHECK_THAT(tools.note, Catch::Contains("smollm2") && Catch::Contains("cannot show the tools"));
  CHECK(chat_template_detect(tools.jinja, "llama").name == "chatml-tools");  // the Jinja written says what it is
  // A template that shows tools is kept; a model without one, or with one not built in, falls back.
  CHECK(chat_template_choose("auto", qwen25, "qwen2", true, nullptr).tpl.name == "qwen2.5");
  CHECK(chat_template_choose("", "", "llama", false, nullptr).tpl.name == "chatml-tools");
  CHECK_THAT(chat_template_choose("", "", "llama", false, nullptr).note, Catch::Contains("has no chat template"));
  CHECK(chat_template_choose("auto", "{{ messages }}", "llama", false, nullptr).tpl.name == "chatml-tools");
  // A name is taken as given (rendering then refuses what it cannot show); a file is recognised.
  CHECK(chat_template_choose("smollm2", qwen25, "qwen2", true, nullptr).tpl.name == "smollm2");
  CHECK(chat_template_choose((fixtures + "Qwen-Qwen2.5-7B-Instruct.jinja"), smollm2, "llama", true, nullptr).tpl.name == "qwen2.5");
  Error missing = slmify_test::expect_error([&] { chat_template_choose("/nonexistent/t.jinja", smollm2, "llama", true, nullptr); });
  CHECK(missing.code() == ExitCode::usage);
  CHECK_THROWS_AS(chat_template_choose("no-such-template", smollm2, "llama", true, nullptr), Error);
  // The fallback renders a tool call; SmolLM2's template refuses it.
  const nlohmann::json msgs = nlohmann::json::parse(
      R"([{"role":"user","content":"route it"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"route","arguments":"{\"queue\":\"billing\"}"}}]}])");
  const nlohmann::json defs = nlohmann::json::parse(R"([{"type":"function","function":{"name":"route","parameters":{"type":"object"}}}])");
  CHECK_THROWS_AS(chat_render(plain.tpl, msgs, defs, false), Error);
  CHECK_THAT(chat_text(chat_render(tools.tpl, msgs, defs, false)), Catch::Contains("<tool_call>") && Catch::Contains("\"queue\": \"billing\""));
}

TEST_CASE("chat_template_write and chat_template_read keep the template an adapter was trained with", "[chat]") {
  slmify_test::TempDir tmp;
  CHECK_FALSE(chat_template_read(tmp.path()).has_value());
  ChatTemplateChoice c = chat_template_choose("auto", fixture("HuggingFaceTB-SmolLM2-135M-Instruct.jinja"), "llama", true, nullptr);
  chat_template_write(tmp.path(), c);
  std::optional<ChatTemplate> back = chat_template_read(tmp.path());
  REQUIRE(back.has_value());
  CHECK(back->name == "chatml-tools");
  CHECK(back->default_system == c.tpl.default_system);
  CHECK(slmify_test::read_bytes(tmp.path() / "chat_template.jinja") == c.jinja);
  auto json_of = [&] { return nlohmann::json::parse(slmify_test::read_bytes(tmp.path() / kChatTemplateFile)); };
  CHECK(json_of()["format"] == "slmify-chat-template");
  CHECK_THAT(json_of()["note"].get<std::string>(), Catch::Contains("cannot show the tools"));
  // Another version, another format and an unknown name are refused with the file named.
  for (const char* bad : {R"({"format":"slmify-chat-template","version":2,"name":"chatml"})", R"({"format":"x","version":1,"name":"chatml"})",
                          R"({"format":"slmify-chat-template","version":1,"name":"nope"})", "not json"}) {
    slmify_test::write_bytes(tmp.path() / kChatTemplateFile, bad);
    Error e = slmify_test::expect_error([&] { chat_template_read(tmp.path()); });
    INFO(bad);
    CHECK_THAT(std::string(e.what()) + (e.problems().empty() ? "" : e.problems()[0].where), Catch::Contains(kChatTemplateFile));
  }
}
