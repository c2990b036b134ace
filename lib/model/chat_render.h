// Internal to the chat templates: messages checked and normalised once (chat_template.cpp), the
// text helpers that mirror what the Jinja templates do (Python's json.dumps and str.strip), and
// one render function per family (chat_render_chatml.cpp, chat_render_llama.cpp,
// chat_render_other.cpp). Tested through chat_render() by tests/model/test_chat_template.cpp.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/chat_template.h"

namespace slmify::chat {

struct ToolCall {
  std::string id;               ///< as logged ("" when absent)
  std::string name;
  nlohmann::ordered_json arguments;  ///< parsed JSON (an object for well-formed calls), keys in the logged order
};

struct Message {
  std::string role;             ///< system, user, assistant or tool ("developer" becomes system)
  std::string content;          ///< "" for null content
  std::vector<ToolCall> calls;  ///< assistant tool calls, in order
  std::string tool_call_id;     ///< tool results: the call answered
  int index = 0;                ///< position in the caller's messages array
};

/// Checks and normalises the caller's messages; bad_data Error naming messages[i] otherwise.
std::vector<Message> normalise_messages(const nlohmann::json& messages);
/// tools as a list of OpenAI tool objects; null and [] give an empty list.
std::vector<nlohmann::json> normalise_tools(const nlohmann::json& tools);

/// Python's json.dumps(x, ensure_ascii=False[, indent]) as transformers' tojson filter writes it;
/// object keys in the canonical order of json_key_less().
std::string py_json(const nlohmann::json& j, int indent = -1);
/// The same for ordered_json: object keys in their insertion order (Python's dict order).
std::string py_json(const nlohmann::ordered_json& j, int indent = -1);
/// Key order for objects: type, function, name, description, parameters, properties, required,
/// arguments first (the order OpenAI tool definitions are written in), then the rest bytewise.
bool json_key_less(const std::string& a, const std::string& b);
/// Python's str.strip() (Jinja's trim): Unicode whitespace removed at both ends.
std::string py_strip(std::string_view s);

/// Collects segments, merging neighbours of the same kind and message.
class SegmentWriter {
 public:
  void text(std::string_view s, int message = -1) { add(s, false, message); }
  void reply(std::string_view s, int message) { add(s, true, message); }
  std::vector<ChatSegment> take() { return std::move(segments_); }

 private:
  void add(std::string_view s, bool assistant, int message);
  std::vector<ChatSegment> segments_;
};

[[noreturn]] void fail(const ChatTemplate& t, int message, const std::string& what,
                       const std::string& hint = {});
/// bad_data Error when the family has no tool format and tools, tool calls or tool results appear.
void require_no_tools(const ChatTemplate& t, const std::vector<Message>& msgs,
                      const std::vector<nlohmann::json>& tools);

void render_chatml(const ChatTemplate& t, const std::vector<Message>& msgs,
                   const std::vector<nlohmann::json>& tools, bool gen, SegmentWriter& w);
void render_llama2(const ChatTemplate& t, const std::vector<Message>& msgs,
                   const std::vector<nlohmann::json>& tools, bool gen, SegmentWriter& w);
void render_llama3(const ChatTemplate& t, const std::vector<Message>& msgs,
                   const std::vector<nlohmann::json>& tools, bool gen, SegmentWriter& w);
void render_mistral(const ChatTemplate& t, const std::vector<Message>& msgs,
                    const std::vector<nlohmann::json>& tools, bool gen, SegmentWriter& w);
void render_phi3(const ChatTemplate& t, const std::vector<Message>& msgs,
                 const std::vector<nlohmann::json>& tools, bool gen, SegmentWriter& w);
void render_gemma(const ChatTemplate& t, const std::vector<Message>& msgs,
                  const std::vector<nlohmann::json>& tools, bool gen, SegmentWriter& w);

}  // namespace slmify::chat
