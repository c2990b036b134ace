// Finds PII and secrets in one string: the built-in detectors named in scrub.detectors, the
// config's custom regex detectors and its word lists. All patterns are compiled once; per string,
// one RE2::Set pass tells which rules can match and only those run. RE2 stays in detect.cpp.
// Detectors and their limits: docs/scrub.md. Tested by tests/scrub/test_detect.cpp.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/error.h"

namespace slmify {

/// One detected value: bytes [begin, end) of the UTF-8 text.
struct Detection {
  size_t begin = 0;
  size_t end = 0;
  std::string entity;    ///< EMAIL, PHONE, CARD, IBAN, SSN, IP, MAC, URL_CREDENTIALS, SECRET, DOB or a custom entity
  std::string detector;  ///< rule that found it: "card", "secret.github", a custom rule's name, "words.PERSON"
};

/// Every problem with the detection part of a scrub config: custom patterns RE2 rejects (with the
/// rule's name and RE2's message), patterns that match the empty string, missing names or entities,
/// unknown built-in detectors and unreadable word-list files. Empty when the config is usable.
std::vector<Problem> detector_check(const ScrubConfig& cfg);

class Detector {
 public:
  /// Compiles every rule; throws Error(ExitCode::usage) listing all of detector_check()'s problems.
  explicit Detector(const ScrubConfig& cfg);
  ~Detector();
  Detector(Detector&&) noexcept;
  Detector& operator=(Detector&&) noexcept;

  /// Detections in `text`, sorted by begin and non-overlapping: where candidates overlap, the
  /// higher-priority rule wins, then the longer span, then the earlier one. Linear in text size.
  /// Thread-safe: find() may run concurrently on one Detector.
  std::vector<Detection> find(std::string_view text) const;

  /// The entity types this detector can report, sorted.
  const std::vector<std::string>& entities() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace slmify
