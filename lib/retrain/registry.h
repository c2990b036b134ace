// The version registry of `slmify retrain`: every promoted-or-promotable set of adapters and
// router is a version, an artifact directory WORK/registry/versions/vNNNN with sha256 of every
// file. Which version serves is decided by replaying the append-only log.jsonl (who, when, why of
// every change); the `serving` symlink is derived from it for serving systems. Reference:
// docs/registry.md. Tested by tests/retrain/test_registry.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/record.h"

namespace slmify {

/// Who makes a change and why; recorded in every log entry.
struct Actor {
  std::string who;     ///< empty: $SLMIFY_USER, else $USER, else the account name of the uid
  std::string reason;  ///< free text; the CLI requires it for promote and rollback
};

/// The registry at `root` (WORK/registry). Mutating methods (add, promote, rollback, prune) assume
/// the caller holds the work directory's WorkdirLock (core/lock.h).
class Registry {
 public:
  explicit Registry(std::filesystem::path root);  ///< nothing is created until a change
  const std::filesystem::path& root() const { return root_; }

  /// The id the next add() takes: "v0001", "v0002", ... (one past the highest ever registered,
  /// pruned ones included, so an id is never reused).
  std::string next_id() const;
  /// Registers a new version: copies each (source file or directory, destination relative to the
  /// version) into versions/<id>/, writes `info` as version.json and commits the directory as an
  /// artifact (stage "registry", config = info). Logs "register". Returns the id.
  std::string add(const std::vector<std::pair<std::filesystem::path, std::string>>& entries, const json& info,
                  const Actor& by);
  /// Makes `id` the serving version (after checking its files against manifest.json); logs
  /// "promote". Usage Error for an unknown id, nothing_to_do Error when it already serves.
  void promote(const std::string& id, const Actor& by);
  /// Goes back to the version that served before the current one and returns it; logs
  /// "rollback". nothing_to_do Error when there is none.
  std::string rollback(const Actor& by);
  /// The serving version, by replaying log.jsonl.
  std::optional<std::string> serving() const;
  std::filesystem::path version_dir(const std::string& id) const { return root_ / "versions" / id; }
  /// The versions that exist, oldest first: {id, created, status (serving|previous|candidate|
  /// retired), info (version.json), digest (of the files, from manifest.json)}; a version whose
  /// manifest cannot be read has a "problem" instead of created/digest.
  json list() const;
  /// Every log entry, oldest first (a torn line is skipped with a warning).
  json log() const;
  /// Deletes the oldest versions beyond the newest `keep`, never the serving one nor the one
  /// rollback would return to; logs one "prune" per version. Returns the removed ids.
  std::vector<std::string> prune(int64_t keep, const Actor& by);

 private:
  struct State;  // the result of replaying the log
  State replay() const;
  void append_log(const std::string& action, const std::string& version, const std::optional<std::string>& before,
                  const std::optional<std::string>& after, const Actor& by) const;
  void point_serving_link(const std::string& id) const;
  std::vector<std::string> existing_ids(const State& s) const;

  std::filesystem::path root_;
};

/// `by` with `who` filled in from the environment when empty.
Actor actor_resolved(const Actor& by);

}  // namespace slmify
