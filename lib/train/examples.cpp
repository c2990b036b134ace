// Training examples from records; see examples.h.
#include "train/examples.h"

#include "core/error.h"

namespace slmify {

int64_t TrainExample::targets() const {
  int64_t n = 0;
  for (size_t i = 1; i < mask.size(); ++i) n += mask[i] != 0;
  return n;
}

json record_conversation(const json& rec, json& tools) {
  const json& req = rec.at("request");
  json messages = req.contains("messages") && req["messages"].is_array() ? req["messages"] : json::array();
  tools = req.contains("tools") ? req["tools"] : json(nullptr);
  const json& resp = rec.contains("response") ? rec["response"] : json::object();
  json reply = {{"role", "assistant"}};
  reply["content"] = resp.contains("content") && resp["content"].is_string() ? resp["content"] : json("");
  if (resp.contains("tool_calls") && resp["tool_calls"].is_array() && !resp["tool_calls"].empty())
    reply["tool_calls"] = resp["tool_calls"];
  messages.push_back(std::move(reply));
  return messages;
}

bool example_from_record(const ChatTemplate& tmpl, const Tokenizer& tok, const json& rec, int64_t max_length,
                         TrainExample& out, std::string& why) {
  json tools;
  json messages;
  std::vector<ChatSegment> segs;
  try {
    messages = record_conversation(rec, tools);
    segs = chat_render(tmpl, messages, tools, false);
  } catch (const Error& e) {
    why = "unrenderable: " + (e.problems().empty() ? std::string("chat template error") : e.problems()[0].what);
    return false;
  } catch (const json::exception& e) {
    why = std::string("unrenderable: ") + e.what();
    return false;
  }
  // Only the response is learnt: earlier assistant turns of the request are context.
  const int reply = static_cast<int>(messages.size()) - 1;
  for (ChatSegment& s : segs)
    if (s.assistant && s.message != reply) s.assistant = false;
  ChatTokens ct = chat_encode(tok, segs);
  if (static_cast<int64_t>(ct.ids.size()) > max_length) {
    why = "too_long";
    return false;
  }
  out.ids = std::move(ct.ids);
  out.mask = std::move(ct.assistant_mask);
  if (!out.mask.empty()) out.mask[0] = 0;
  if (out.targets() == 0) {
    why = "no_target";
    return false;
  }
  return true;
}

std::vector<std::vector<int32_t>> pack_examples(const std::vector<int64_t>& lengths, const std::vector<int32_t>& order,
                                                int64_t max_length, bool packing) {
  std::vector<std::vector<int32_t>> seqs;
  if (!packing) {
    for (int32_t i : order) seqs.push_back({i});
    return seqs;
  }
  std::vector<int64_t> room;  // free tokens per open sequence
  for (int32_t i : order) {
    int64_t len = lengths[size_t(i)];
    SLMIFY_ASSERT(len <= max_length, "example longer than max_length reached packing");
    size_t s = 0;
    while (s < room.size() && room[s] < len) ++s;
    if (s == room.size()) {
      seqs.emplace_back();
      room.push_back(max_length);
    }
    seqs[s].push_back(i);
    room[s] -= len;
  }
  return seqs;
}

}  // namespace slmify
