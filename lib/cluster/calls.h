// The calls of a dataset as the cluster stage uses them: read once into a deduplicated corpus of
// masked view texts with their templates and facts, then read again to write every record with
// its annotations. Also the seeded, per-cluster eval split and the extra files (clusters.json,
// index, model, report) written into the output dataset before its atomic commit.
// Tested by tests/cluster/test_cluster.cpp.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "cluster/embed.h"
#include "cluster/templates.h"
#include "cluster/view.h"
#include "core/dataset.h"

namespace slmify {

struct LoadedCalls {
  Corpus corpus;                  ///< masked texts of the parts in `parts` (+ system, last_user)
  std::vector<CallFacts> facts;   ///< per call, in dataset order
};

/// Adds one record's view parts to `corpus` (masked as calls_load does; no template) and returns
/// the call's index. With `request_only` the parts that come from the answer (response, response
/// shape, tools it called) are left out, so that a request not answered yet can be placed (the
/// router); the record must still hold "request" and may hold "response": null.
size_t calls_add(Corpus& corpus, const json& rec, const std::array<bool, part_count>& parts, CallFacts& facts,
                 bool request_only = false);
/// The user part whose template is the call's template part: all_user when the view has it
/// without last_user, else last_user.
int calls_template_source(const std::array<bool, part_count>& parts);
/// Reads every record of `reader`. With `miner` and parts[part_template], mines the templates of
/// the user turns (mine = true: from these calls; false: matched against the miner's templates)
/// and adds each call's template as its template part. (The system prompt is a part of its own.)
LoadedCalls calls_load(DatasetReader& reader, const std::array<bool, part_count>& parts, PromptTemplates* miner, bool mine);

/// The eval split: in each group the calls whose seeded hash of the record id is smallest, so
/// that a call keeps its split while its cluster does. round(fraction * size) of a group, at
/// least eval_min when the group has 2 * eval_min calls or more (else half of it, rounded down).
std::vector<bool> eval_split(const std::vector<int32_t>& group, const std::vector<CallFacts>& facts, double fraction,
                             int64_t eval_min, uint64_t seed);

/// Reads `dir` again and writes each record i with ann.cluster = annotation[i] and ann.split;
/// `seen(i, record)` may look at each record on the way. The input must not have changed since
/// calls_load (same ids in the same order), or a bad-data Error says so.
void calls_write(const std::filesystem::path& dir, const ReadOptions& ro, DatasetWriter& writer, const std::vector<json>& annotation,
                 const std::vector<bool>& eval, const std::vector<CallFacts>& facts,
                 const std::function<void(size_t, const json&)>& seen);

/// Threads for OpenMP (faiss, the sparse products) and OpenBLAS: `threads` (0: one per core), but
/// one below 20,000 calls, where waiting at OpenMP barriers on a busy machine costs more than it
/// saves (measured: k: auto on 3,000 calls 1.2 s on one thread, 18 s on two with a loaded CPU).
void cluster_set_threads(int64_t threads, size_t calls);

/// Writes `content` into `dir/name` durably (dir: the writer's staging_dir()); returns its sha256.
std::string write_extra_file(const std::filesystem::path& dir, const std::string& name, std::string_view content, unsigned mode);

}  // namespace slmify
