// Training examples from dataset records (torch-free): the call's request and the LLM's response
// rendered with the model's chat template, tools included, and a loss mask that covers only the
// response (the LLM's answer plus the end-of-turn token), never the prompt or earlier turns.
// Tested by tests/train/test_examples.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/record.h"
#include "model/chat_template.h"
#include "model/tokenizer.h"

namespace slmify {

struct TrainExample {
  TokenIds ids;
  std::vector<uint8_t> mask;  ///< 1 where ids[i] is a target (predicted from ids[0..i-1])
  int64_t targets() const;
};

/// The conversation of a record: request.messages followed by the response as an assistant
/// message (content and tool_calls); `tools` receives request.tools (null when absent).
json record_conversation(const json& rec, json& tools);

/// Renders and tokenises one record. Returns false with `why` ("too_long", "unrenderable: ...",
/// "no_target") when it cannot be used; an example longer than max_length is never truncated.
bool example_from_record(const ChatTemplate& tmpl, const Tokenizer& tok, const json& rec, int64_t max_length,
                         TrainExample& out, std::string& why);

/// Sequences of at most max_length tokens built from examples (indices into the example list).
/// With packing, examples are placed first-fit in the given order; without it, one per sequence.
std::vector<std::vector<int32_t>> pack_examples(const std::vector<int64_t>& lengths, const std::vector<int32_t>& order,
                                                int64_t max_length, bool packing);

/// Examples that share one copy of a common prompt prefix in a training row (shared-prefix
/// packing): `prefix` tokens, the same in every member and holding none of their targets, then
/// each member's remaining tokens as its own branch. `len` = prefix + Σ(member length − prefix),
/// the tokens the row spends on the group. A group of one has prefix 0.
struct PrefixGroup {
  std::vector<int32_t> ex;
  int64_t prefix = 0;
  int64_t len = 0;
};

/// Groups the examples named by `order` (indices into `ex`) by shared prefix: examples whose
/// common prefix before their first target is at least `min_shared` tokens go together, in the
/// order given, while the group's `len` stays within max_length. Groups come in the order of
/// their first member; with min_shared <= 0 every example is a group of its own.
std::vector<PrefixGroup> group_shared_prefix(const std::vector<TrainExample>& ex, const std::vector<int32_t>& order,
                                             int64_t max_length, int64_t min_shared);

}  // namespace slmify
