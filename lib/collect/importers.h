// The importers: each turns one unit of one input format into a record of dataset format v1
// (docs/dataset-format.md) and knows nothing about files, state or HCI rules. Accepted shapes,
// field by field: docs/collect.md. Tested by tests/collect/test_importers.cpp and
// tests/collect/test_otel.cpp against examples/formats/.
#pragma once

#include <functional>
#include <map>
#include <stdexcept>
#include <string>

#include "core/record.h"

namespace slmify {

/// The input cannot be turned into a record; what() is the quarantine reason.
class ImportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One converted call. `record` has every field but "id" and "hci" (the driver adds them, with
/// source.file and source.line); `dropped_parts` counts content the record cannot hold (images,
/// audio, files, thinking blocks), by kind.
struct Imported {
  json record;
  std::map<std::string, uint64_t> dropped_parts;
};

enum class InputFormat { openai_chat, openai_ft, otel, anthropic };
const char* input_format_name(InputFormat f);
/// Parses "openai-chat", "openai-ft", "otel", "anthropic"; false otherwise.
bool input_format_parse(const std::string& s, InputFormat& out);
/// Recognises the format of one JSON value (a log line, or a whole OTLP document). False when the
/// shape is none of the four.
bool input_format_detect(const json& j, InputFormat& out);

/// A logged Chat Completions call: request and response bodies in a wrapper
/// ({"request": ..., "response": ...}, also request_body/response_body and {"body": ...}), with
/// optional metadata (timestamp, latency, agent, session, cost, metadata object). The response may
/// be a list of streaming chunks, which are reassembled.
Imported import_openai_chat(const json& line);
/// A chat fine-tuning example {"messages": [...], "tools": [...]}: the last assistant message is
/// the response.
Imported import_openai_ft(const json& line);
/// A logged Anthropic Messages API call in the same wrappers (system, content blocks, tool_use,
/// tool_result, streaming events).
Imported import_anthropic(const json& line);

/// Counts of an OTLP document's spans that are not LLM calls, by operation (for the summary).
using OtelSkipped = std::map<std::string, uint64_t>;
/// An OTLP/JSON traces document (resourceSpans -> scopeSpans -> spans): calls `emit` once per
/// span that is an LLM call (gen_ai attributes, indexed or JSON messages, or events) and `fail`
/// with a reason and a span description for LLM spans that cannot be converted. `parents` maps
/// span ids to (parent span id, agent name) for every span of the file (otel_collect_parents over
/// all of its documents), so that a call inherits the agent of its nearest ancestor span even when
/// the ancestor is exported later, as parents usually are.
void import_otel(const json& doc, const std::map<std::string, std::pair<std::string, std::string>>& parents,
                 const std::function<void(Imported&&)>& emit,
                 const std::function<void(const std::string& reason, const std::string& span)>& fail, OtelSkipped& skipped);
/// First pass over an OTLP document: span id -> (parent span id, agent name or "").
void otel_collect_parents(const json& doc, std::map<std::string, std::pair<std::string, std::string>>& parents);

// ---- helpers shared by the importers (normalize.cpp) ----------------------------------------

/// Text of OpenAI-style content: a string, null, or a list of parts ({type: text, text}); other
/// parts (image_url, input_audio, file, ...) are counted in `dropped` by type.
json content_text(const json& content, std::map<std::string, uint64_t>& dropped);
/// An ISO-8601 UTC timestamp from a log value: ISO strings are kept, numbers are taken as Unix
/// seconds (or milliseconds / nanoseconds when they are that large). Null when absent or unusable.
json timestamp_from(const json& v);
/// A JSON text for tool-call arguments: strings are kept as they are, other values are dumped.
std::string arguments_text(const json& v);
/// Looks up the first present key of `keys` in `obj`, also one level down in obj["metadata"].
const json* find_key(const json& obj, std::initializer_list<const char*> keys);
/// The first of `keys` present in a log line, looking through a nested {"body": ...}.
const json* wrapped_body(const json& line, std::initializer_list<const char*> keys);
/// Streamed pieces (OpenAI chunk choices and tool calls, Anthropic content blocks) name their
/// slot by an "index"; a call holds at most this many (docs/collect.md, "Limits").
constexpr int64_t kMaxStreamIndex = 1024;
/// The "index" of a streamed piece: 0 when absent; ImportError unless it is an integer in
/// [0, kMaxStreamIndex). `what` names the piece in the message.
int64_t stream_index(const json& piece, const char* what);
/// Runs an importer; a value of an unexpected type that its checks do not catch (a number where
/// an object belongs, ...) becomes an ImportError too, so the line is quarantined and the run goes on.
Imported import_guarded(Imported (*importer)(const json&), const json& line);
/// The request body of a logged call (ImportError when there is none) and its response body, with
/// a list of streamed pieces logged as {"<stream_key>": [...]} unwrapped to the list itself.
std::pair<const json*, json> unwrap_call(const json& line, const char* stream_key);
/// The error a wrapper reports by an HTTP status of 400 or more (status, status_code or
/// http_status at the top level, in metadata, or beside the response body); null otherwise.
json wrapper_http_error(const json& line);
/// Sets response.model when the answering model differs from the requested one (so that the same
/// call logged by a proxy and by a tracer has one id).
void set_response_model(json& response, const json& request, const json& model);
/// Wrapper metadata of a logged call into `rec`: ts (falling back to the response's "created"),
/// latency_ms, cost_usd, source.agent, source.session and meta (docs/collect.md).
void wrapper_metadata(const json& line, const json* response, json& rec);

}  // namespace slmify
