// One LLM call as stored in a dataset (format v1, docs/dataset-format.md): schema check and
// stable content id. Records are nlohmann::json objects shaped like OpenAI chat, so that
// request.messages + response is a fine-tuning example. Tested by tests/core/test_record.cpp.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace slmify {

using json = nlohmann::json;

/// Checks `rec` against record schema v1. Returns an empty string when valid, otherwise the first
/// problem with its path inside the record, e.g. "request.messages[2].role: must be one of ...".
std::string record_check(const json& rec);

/// Stable content id: sha256 (first 32 hex digits) of the canonical JSON of request and response.
/// Collecting the same call twice gives the same id; metadata (time, file, latency) does not count.
std::string record_content_id(const json& rec);

/// A record checked, given its content id and serialised, ready for DatasetWriter::write. Made
/// by record_prepare, which stages may run on worker threads so that the writer only compresses.
struct PreparedRecord {
  std::string id;       ///< the content id, also set in the record
  std::string line;     ///< the record as one line of compact JSON (rec.dump() with that id)
  std::string problem;  ///< non-empty when the record fails the schema check (then `line` is empty)
};
/// Sets rec["id"] to the content id, checks the record, and serialises it, writing request and
/// response only once (the id hashes exactly those bytes).
PreparedRecord record_prepare(json& rec);

/// True for an ISO-8601 date or date-time that names a real moment: YYYY-MM-DD, optionally
/// followed by T (or a space) HH:MM[:SS[.fraction]] and Z or an offset ±HH[:MM]; months, days
/// (leap years included), hours, minutes and seconds in range. "2026-13-45T99:99:99Z" is not.
bool iso8601_valid(std::string_view s);

/// Current UTC time as ISO-8601 with milliseconds: "2026-11-28T10:00:00.123Z".
std::string utc_now_iso8601();

/// True when `s` is valid UTF-8 (what JSON strings must be).
bool utf8_valid(std::string_view s);
/// Length of the longest prefix of `s` that is valid UTF-8: the offset of the first bad byte.
size_t utf8_valid_prefix(std::string_view s);

/// Nesting of arrays and objects deeper than this is refused by every reader of datasets
/// (docs/dataset-format.md, "Limits"): deeper values would overflow the stack of the recursive
/// code that copies, prints and checks them.
constexpr size_t kMaxJsonDepth = 10000;
/// The most that input may nest: the upper bound of collect.max_depth, the limit of
/// `dataset import`, and of JSON found inside strings (arguments, OTLP attributes). A record built
/// from such input stays far below kMaxJsonDepth.
constexpr size_t kMaxInputDepth = 1000;

/// Depth of the deepest nesting of arrays and objects in a JSON text (0 for a scalar), counting
/// brackets outside strings; the scan stops once the depth passes `limit`, so the result is at
/// most limit + 1. Linear and allocation-free: run it before parsing untrusted text.
size_t json_nesting_depth(std::string_view text, size_t limit);

/// True when `text` starts an array or object and ends with it still open, outside any string:
/// the first line of a JSON document spread over several lines.
bool json_left_open(std::string_view text);

/// Why an untrusted JSON text was refused.
enum class JsonFault { none, invalid, too_deep };
/// Parses one JSON text from an untrusted source without throwing. Not `none`, with a reason in
/// `error`, when the text is invalid JSON or holds a number out of range such as 1e999 (`invalid`),
/// or nests deeper than `max_depth` (`too_deep`, found before anything is allocated).
JsonFault json_parse_guarded(std::string_view text, json& out, std::string& error, size_t max_depth = kMaxJsonDepth);
/// JSON found inside a string of a record (tool arguments, an OTLP attribute): the parsed value,
/// or a discarded value when it is not JSON or nests deeper than kMaxInputDepth.
json json_parse_embedded(std::string_view text);

/// `s` with every byte that is not part of a valid UTF-8 sequence replaced by U+FFFD, so that it
/// can go into JSON (which nlohmann::json would refuse to write).
std::string utf8_repair(std::string_view s);

/// Decodes base64 in either alphabet (standard +/ or URL-safe -_), with or without '=' padding.
/// False for anything else (the output is then unspecified).
bool base64_decode(std::string_view in, std::string& out);

}  // namespace slmify
