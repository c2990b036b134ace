// Loading calls for clustering, the eval split, and writing the annotated dataset; see calls.h.
// Tested by tests/cluster/test_cluster.cpp.
#include "cluster/calls.h"

#include <dlfcn.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <thread>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"

namespace slmify {

namespace fs = std::filesystem;

namespace {

uint64_t id_hash(const std::string& id, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ (seed * 0x9e3779b97f4a7c15ull);
  for (char c : id) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 29);
}

}  // namespace

size_t calls_add(Corpus& corpus, const json& rec, const std::array<bool, part_count>& parts, CallFacts& facts, bool request_only) {
  std::array<std::string, part_count> texts = view_texts(rec, facts);
  if (request_only) {
    texts[part_response].clear();
    std::string& tools = texts[part_tools];  // "offers_A offers_B calls_B ": keep what was offered
    for (size_t at = 0; at < tools.size(); at = tools.find(' ', at) == std::string::npos ? tools.size() : tools.find(' ', at) + 1)
      if (tools.compare(at, 6, "calls_") == 0) {
        tools.resize(at);
        break;
      }
  }
  size_t call = corpus.begin_call();
  for (int p = 0; p < part_count; ++p) {
    if (p == part_template || (request_only && p == part_shape)) continue;
    bool keep = parts[static_cast<size_t>(p)] || p == part_system || p == part_last_user;
    if (!keep || (texts[static_cast<size_t>(p)].empty() && p != part_shape)) continue;
    corpus.add(call, p, p == part_tools || p == part_shape ? texts[static_cast<size_t>(p)] : mask_text(texts[static_cast<size_t>(p)]));
  }
  return call;
}

int calls_template_source(const std::array<bool, part_count>& parts) {
  return parts[part_all_user] && !parts[part_last_user] ? part_all_user : part_last_user;
}

LoadedCalls calls_load(DatasetReader& reader, const std::array<bool, part_count>& parts, PromptTemplates* miner, bool mine) {
  LoadedCalls out;
  Progress progress("cluster: read", reader.manifest().records(), "calls");
  json rec;
  const bool templates = miner && parts[part_template];
  while (reader.next(rec)) {
    CallFacts facts;
    calls_add(out.corpus, rec, parts, facts);
    out.facts.push_back(std::move(facts));
    progress.add();
  }
  progress.done();
  if (!templates) return out;
  // The template of a call: its system prompt's template, then its user turn's.
  const int user = calls_template_source(parts);
  if (mine) {
    std::vector<std::pair<std::string_view, uint64_t>> texts;
    for (size_t t = 0; t < out.corpus.texts(user); ++t) texts.push_back({out.corpus.text(user, t), out.corpus.uses(user, t)});
    miner->build(texts, out.corpus.calls());
  }
  std::vector<std::string> of(out.corpus.texts(user));
  for (size_t t = 0; t < of.size(); ++t) of[t] = miner->template_of(out.corpus.text(user, t));
  for (size_t c = 0; c < out.corpus.calls(); ++c)
    if (int32_t u = out.corpus.of(c, user); u >= 0) out.corpus.add(c, part_template, of[static_cast<size_t>(u)]);
  return out;
}

std::vector<bool> eval_split(const std::vector<int32_t>& group, const std::vector<CallFacts>& facts, double fraction,
                             int64_t eval_min, uint64_t seed) {
  std::map<int32_t, std::vector<std::pair<uint64_t, size_t>>> members;
  for (size_t i = 0; i < group.size(); ++i) members[group[i]].push_back({id_hash(facts[i].id, seed), i});
  std::vector<bool> eval(group.size(), false);
  for (auto& [g, m] : members) {
    std::sort(m.begin(), m.end());
    size_t size = m.size();
    size_t want = static_cast<size_t>(std::llround(fraction * static_cast<double>(size)));
    size_t floor_min = static_cast<size_t>(std::max<int64_t>(0, eval_min));
    if (want < floor_min) want = size >= 2 * floor_min ? floor_min : size / 2;
    for (size_t j = 0; j < std::min(want, size); ++j) eval[m[j].second] = true;
  }
  return eval;
}

void calls_write(const fs::path& dir, const ReadOptions& ro, DatasetWriter& writer, const std::vector<json>& annotation,
                 const std::vector<bool>& eval, const std::vector<CallFacts>& facts,
                 const std::function<void(size_t, const json&)>& seen) {
  DatasetReader reader(dir, ro);
  Progress progress("cluster: write", annotation.size(), "calls");
  json rec;
  size_t i = 0;
  while (reader.next(rec)) {
    if (i >= facts.size() || rec.value("id", "") != facts[i].id)
      throw_bad_data(reader.location(), "the input dataset changed while it was being clustered",
                     "run `slmify cluster` again once the stage that writes " + dir.string() + " has finished");
    if (seen) seen(i, rec);
    if (!rec.contains("ann") || !rec["ann"].is_object()) rec["ann"] = json::object();
    rec["ann"]["cluster"] = annotation[i];
    rec["ann"]["split"] = eval[i] ? "eval" : "train";
    writer.write(rec);
    progress.add();
    ++i;
  }
  if (i != facts.size())
    throw_bad_data(dir.string(), "the input dataset changed while it was being clustered",
                   "run `slmify cluster` again once the stage that writes it has finished");
  progress.done();
}

void cluster_set_threads(int64_t threads, size_t calls) {
  int t = threads > 0 ? static_cast<int>(threads) : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (calls < 20000) t = 1;
  omp_set_num_threads(t);
  // OpenBLAS runs its own thread pool; it is told through its own call when it is the BLAS linked.
  using set_fn = void (*)(int);
  if (auto f = reinterpret_cast<set_fn>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(t);
}

std::string write_extra_file(const fs::path& dir, const std::string& name, std::string_view content, unsigned mode) {
  FileSink out(dir / name, static_cast<mode_t>(mode));
  out.write(content);
  return out.finish();
}

}  // namespace slmify
