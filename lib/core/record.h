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

/// Current UTC time as ISO-8601 with milliseconds: "2026-11-28T10:00:00.123Z".
std::string utc_now_iso8601();

/// True when `s` is valid UTF-8 (what JSON strings must be).
bool utf8_valid(std::string_view s);

/// Decodes base64 in either alphabet (standard +/ or URL-safe -_), with or without '=' padding.
/// False for anything else (the output is then unspecified).
bool base64_decode(std::string_view in, std::string& out);

}  // namespace slmify
