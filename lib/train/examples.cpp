// Training examples from records; see examples.h.
#include "train/examples.h"

#include <algorithm>

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

namespace {

// Index of the first target of x (its length when it has none): a shared prefix must end there.
int64_t first_target(const TrainExample& x) {
  for (size_t i = 0; i < x.mask.size(); ++i)
    if (x.mask[i]) return int64_t(i);
  return int64_t(x.ids.size());
}

int64_t common_prefix(const TrainExample& a, const TrainExample& b, int64_t bound) {
  int64_t n = std::min({bound, int64_t(a.ids.size()), int64_t(b.ids.size())}), i = 0;
  while (i < n && a.ids[size_t(i)] == b.ids[size_t(i)]) ++i;
  return i;
}

}  // namespace

std::vector<PrefixGroup> group_shared_prefix(const std::vector<TrainExample>& ex, const std::vector<int32_t>& order,
                                             int64_t max_length, int64_t min_shared) {
  std::vector<PrefixGroup> out;
  auto single = [&](int32_t i) {
    PrefixGroup g;
    g.ex = {i};
    g.len = int64_t(ex[size_t(i)].ids.size());
    return g;
  };
  if (min_shared <= 0) {
    for (int32_t i : order) out.push_back(single(i));
    return out;
  }
  // Runs: neighbours in lexicographic order whose common pre-target prefix is >= min_shared. Any
  // two members of a run share at least that much (the LCP of two sorted strings is the minimum
  // of the neighbouring LCPs between them).
  std::vector<int64_t> bound(ex.size());
  for (size_t i = 0; i < ex.size(); ++i) bound[i] = first_target(ex[i]);
  std::vector<int32_t> sorted(order);
  std::sort(sorted.begin(), sorted.end(), [&](int32_t a, int32_t b) {
    const TokenIds &x = ex[size_t(a)].ids, &y = ex[size_t(b)].ids;
    if (x != y) return std::lexicographical_compare(x.begin(), x.end(), y.begin(), y.end());
    return a < b;
  });
  std::vector<int32_t> run_of(ex.size(), -1);
  int32_t runs = 0;
  for (size_t k = 0; k < sorted.size(); ++k) {
    const int32_t i = sorted[k];
    if (k > 0) {
      const int32_t j = sorted[k - 1];
      if (common_prefix(ex[size_t(i)], ex[size_t(j)], std::min(bound[size_t(i)], bound[size_t(j)])) >= min_shared) {
        run_of[size_t(i)] = run_of[size_t(j)];
        continue;
      }
    }
    run_of[size_t(i)] = runs++;
  }
  // Greedy groups in `order`: each run keeps one open group; a member that would push it past
  // max_length closes it.
  std::vector<int32_t> open(size_t(runs), -1);
  for (int32_t i : order) {
    const TrainExample& x = ex[size_t(i)];
    const int64_t len = int64_t(x.ids.size());
    int32_t& g = open[size_t(run_of[size_t(i)])];
    if (g >= 0) {
      PrefixGroup& G = out[size_t(g)];
      const TrainExample& first = ex[size_t(G.ex[0])];
      int64_t p = G.ex.size() == 1 ? std::min(bound[size_t(G.ex[0])], int64_t(first.ids.size())) : G.prefix;
      p = std::min(p, common_prefix(first, x, bound[size_t(i)]));
      int64_t cost = p;
      for (int32_t m : G.ex) cost += int64_t(ex[size_t(m)].ids.size()) - p;
      cost += len - p;
      if (p >= min_shared && cost <= max_length) {
        G.ex.push_back(i);
        G.prefix = p;
        G.len = cost;
        continue;
      }
    }
    g = int32_t(out.size());
    out.push_back(single(i));
  }
  return out;
}

}  // namespace slmify
