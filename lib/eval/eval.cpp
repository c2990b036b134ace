// The eval stage: reads the clusters (a dataset with ann.cluster and ann.split, clusters.json,
// centroids, embedder) and finetune's adapters.json; places every call among the clusters from
// its request alone to calibrate and predict the router; has each adapter's model (and the base
// model) answer its clusters' held-out calls in batches; scores the answers against the LLM's;
// decides replaceability per cluster; and writes report.json, report.html, samples.jsonl,
// routes.jsonl and router/ in one atomic commit. Behaviour: docs/eval.md. Tested by tests/eval/.
#include "eval/eval.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>

#include "cluster/cluster.h"
#include "cluster/view.h"
#include "core/artifact.h"
#include "core/dataset.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/hash.h"
#include "core/log.h"
#include "eval/adapters.h"
#include "eval/report.h"
#include "eval/router.h"
#include "model/backend.h"

namespace slmify {

namespace fs = std::filesystem;

namespace {

constexpr double kMinOutlierDist = 0.05;  // the cluster stage's floor for a calibrated distance
constexpr size_t kAssignBatch = 2048;     // requests embedded together
// One held-out call the models answer.
struct EvalCall {
  json record;
  Reply reference;
  EvalGeneration slm, base;
  CallScores slm_scores, base_scores;
};

struct ClusterRun {
  int32_t id = -1;
  std::string label, kind = "text";
  const AdapterEntry* adapter = nullptr;
  std::string skipped;
  double calls = 0, tokens = 0, cost = 0, latency_sum = 0;
  size_t latency_n = 0, cost_n = 0, eval_calls = 0;
  int64_t longest_train_answer = 0;  // completion tokens of the longest LLM answer in the train split
  std::vector<EvalCall> evaluated;
  size_t routed_own = 0, routed_other = 0, routed_llm = 0;
  bool replaceable = false;
  std::string reason;
};

// A held-out call placed by its request alone.
struct Placed {
  std::string id;
  int32_t cluster;
  ClusterAssignment a;
};

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  double pos = q * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos)), hi = std::min(v.size() - 1, lo + 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

double round4(double v) { return std::round(v * 1e4) / 1e4; }

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Means of every metric over the calls, for the SLM (`base` false) or the base model.
json aggregate(const std::vector<EvalCall>& calls, bool base) {
  std::map<std::string, std::pair<double, size_t>> sum;
  size_t errors = 0, cut = 0;
  double seconds = 0;
  std::vector<double> primary;
  for (const EvalCall& c : calls) {
    const EvalGeneration& g = base ? c.base : c.slm;
    const CallScores& s = base ? c.base_scores : c.slm_scores;
    errors += !g.error.empty();
    cut += g.finish_reason == "length";
    seconds += g.seconds;
    primary.push_back(s.primary);
    const json scores = scores_to_json(s);
    for (const auto& [k, v] : scores.items())
      if (v.is_number()) sum[k].first += v.get<double>(), ++sum[k].second;
  }
  json out = json::object();
  for (const auto& [k, v] : sum) out[k] = round4(v.first / static_cast<double>(v.second));
  const double n = static_cast<double>(calls.size());
  double mean = 0, var = 0;
  for (double p : primary) mean += p / n;
  for (double p : primary) var += (p - mean) * (p - mean) / std::max(1.0, n - 1);
  const double half = calls.size() > 1 ? 1.96 * std::sqrt(var / n) : 0.0;
  out["primary_ci95"] = {round4(std::max(0.0, mean - half)), round4(std::min(1.0, mean + half))};
  out["errors"] = errors;
  out["cut_at_max_new_tokens"] = cut;
  out["latency_ms_mean"] = calls.empty() ? json(nullptr) : json(std::round(1000 * seconds / n));
  return out;
}

// Side-by-side examples: the `n` worst answers of the SLM (failures first), then the `n` best.
json examples_of(const ClusterRun& c, int64_t n, bool compare_base) {
  std::vector<const EvalCall*> order;
  for (const EvalCall& e : c.evaluated) order.push_back(&e);
  std::stable_sort(order.begin(), order.end(), [](const EvalCall* a, const EvalCall* b) { return a->slm_scores.primary < b->slm_scores.primary; });
  std::vector<const EvalCall*> picked;
  for (size_t i = 0; i < order.size() && picked.size() < static_cast<size_t>(n); ++i) picked.push_back(order[i]);
  for (size_t i = order.size(); i-- > picked.size() && picked.size() < static_cast<size_t>(2 * n);) picked.push_back(order[i]);
  json out = json::array();
  for (const EvalCall* e : picked) {
    CallFacts f;
    auto texts = view_texts(e->record, f);
    json ex = {{"id", e->record.value("id", "")},
               {"prompt", excerpt(texts[part_last_user].empty() ? texts[part_system] : texts[part_last_user], 600)},
               {"llm", excerpt(reply_text(e->reference), 800)},
               {"slm", e->slm.error.empty() ? excerpt(e->slm.text, 800) : "(no answer: " + e->slm.error + ")"},
               {"slm_score", round4(e->slm_scores.primary)}};
    if (compare_base) ex["base"] = e->base.error.empty() ? excerpt(e->base.text, 800) : "(no answer: " + e->base.error + ")",
                      ex["base_score"] = round4(e->base_scores.primary);
    out.push_back(ex);
  }
  return out;
}

// Generates answers for `calls` with the loaded model, in batches of similar length; `base`
// selects which answer slot is filled.
// The longest answer generated for a cluster: answer_length_factor times its longest logged LLM
// answer among the training calls, plus 32 tokens for another tokenizer's counts, at most
// max_new_tokens. A trained answer stops long before; an untrained one would run on to the cap.
int64_t answer_cap(const EvalConfig& ec, int64_t longest_train_answer) {
  if (ec.answer_length_factor <= 0 || longest_train_answer <= 0) return ec.max_new_tokens;
  const double cap = std::ceil(ec.answer_length_factor * double(longest_train_answer)) + 32;
  return std::min(ec.max_new_tokens, int64_t(cap));
}

// `cap` is each call's longest answer (answer_cap); a batch holds calls of one cap.
void generate_all(EvalBackend& backend, std::vector<EvalCall*> calls, bool base, int64_t batch_size, Progress& progress,
                  const std::map<const EvalCall*, std::string>& kind, const std::map<const EvalCall*, int64_t>& cap) {
  std::stable_sort(calls.begin(), calls.end(), [&](const EvalCall* a, const EvalCall* b) {
    if (cap.at(a) != cap.at(b)) return cap.at(a) < cap.at(b);
    return a->record["request"].dump().size() < b->record["request"].dump().size();
  });
  const ToolCallFormat format = backend.tool_call_format();
  for (size_t at = 0, end; at < calls.size(); at = end) {
    std::vector<const json*> batch;
    for (end = at; end < calls.size() && end < at + static_cast<size_t>(batch_size) && cap.at(calls[end]) == cap.at(calls[at]); ++end)
      batch.push_back(&calls[end]->record);
    std::vector<EvalGeneration> gen = backend.generate(batch, cap.at(calls[at]));
    SLMIFY_ASSERT(gen.size() == batch.size(), "eval backend returned a different number of answers");
    for (size_t k = 0; k < gen.size(); ++k) {
      EvalCall& c = *calls[at + k];
      const Reply pred = gen[k].error.empty() ? reply_parse(gen[k].text, format) : Reply{};
      (base ? c.base : c.slm) = std::move(gen[k]);
      (base ? c.base_scores : c.slm_scores) = score_reply(kind.at(&c), pred, c.reference);
    }
    progress.add(gen.size());
  }
}

}  // namespace

json eval_run(const PipelineConfig& config, const StageIO& io, const Context& ctx) {
  if (!backend_info().torch)  // say so before reading anything
    throw Error(ExitCode::unavailable, "slmify eval", "this slmify was built without libtorch, so it cannot run the small models",
                "rebuild with -DSLMIFY_WITH_TORCH=ON (scripts/bootstrap installs libtorch)");
  std::unique_ptr<EvalBackend> backend = eval_model_backend(config.eval);
  return eval_run_with(config, io, ctx, *backend);
}

json eval_run_with(const PipelineConfig& config, const StageIO& io, const Context& ctx, EvalBackend& backend) {
  (void)ctx;
  const EvalConfig& ec = config.eval;
  if (io.inputs.size() != 2)
    throw_usage("slmify eval", "needs two inputs, the cluster directory and the finetune directory (got " + std::to_string(io.inputs.size()) + ")",
                "slmify eval CLUSTER_DIR FINETUNE_DIR -o OUT");
  if (io.output.empty()) throw_usage("slmify eval", "no output directory", "give one with -o DIR");
  const std::string& cluster_dir = io.inputs[0];
  const std::string& finetune_dir = io.inputs[1];
  std::error_code e1, e2;
  for (const std::string& in : io.inputs)
    if (fs::weakly_canonical(io.output, e1) == fs::weakly_canonical(in, e2))
      throw_usage("-o " + io.output, "is one of the inputs; eval would replace it", "write the evaluation to another directory");

  ClusterAssigner assigner = ClusterAssigner::load(cluster_dir, true, "CLUSTER_DIR " + cluster_dir);
  const json clusters_doc = assigner.clusters();
  FinetuneIndex ft = finetune_index_read(finetune_dir);
  WriterOptions wo;  // the same config record as every stage's, for `slmify run`'s up-to-date check
  stage_writer_options(config, "eval", "eval", wo);
  ArtifactWriter writer(io.output, "eval", wo.config);  // refuses a bad output path before any work
  writer.add_input(input_ref(cluster_dir));
  writer.add_input(input_ref(finetune_dir));

  // The clusters and the adapter that serves each: its own, else one trained on everything.
  std::map<int32_t, ClusterRun> runs;
  const AdapterEntry* for_all = nullptr;
  for (const AdapterEntry& a : ft.adapters)
    if (!a.cluster) for_all = &a;
  for (const json& c : clusters_doc.value("clusters", json::array())) {
    ClusterRun r;
    r.id = c.value("id", -1);
    r.label = c.value("label", std::string());
    r.kind = c.value("output_kind", std::string("text"));
    if (r.id >= 0) {
      for (const AdapterEntry& a : ft.adapters)
        if (a.cluster && *a.cluster == r.id) r.adapter = &a;
      if (!r.adapter) r.adapter = for_all;
      if (auto it = ft.skipped.find(r.id); it != ft.skipped.end()) r.skipped = it->second;
    }
    runs[r.id] = std::move(r);
  }
  runs[-1].id = -1;
  std::map<int32_t, size_t> row_of;
  for (size_t row = 0; row < assigner.row_cluster().size(); ++row)
    if (assigner.row_cluster()[row] >= 0) row_of[assigner.row_cluster()[row]] = row;

  // One pass over the calls: totals, the held-out calls to answer, and every call placed by its
  // request alone (train calls calibrate the router's outlier distances, held-out ones test it).
  ReadOptions ro;
  stage_read_options(config, ro);
  DatasetReader reader(cluster_dir, ro);
  Progress read_progress("eval: read and place", reader.manifest().records(), "calls");
  std::vector<std::vector<double>> calibration(assigner.row_cluster().size());
  std::vector<Placed> held_out;
  std::vector<json> batch;
  std::vector<std::pair<int32_t, bool>> batch_info;  // true cluster, held out
  auto flush = [&]() {
    std::vector<ClusterAssignment> placed = assigner.assign(batch);
    for (size_t i = 0; i < placed.size(); ++i) {
      auto [cid, eval] = batch_info[i];
      if (eval) held_out.push_back({batch[i]["id"].get<std::string>(), cid, placed[i]});
      else if (auto it = row_of.find(cid); it != row_of.end() && static_cast<size_t>(placed[i].row) == it->second)
        calibration[it->second].push_back(placed[i].dist);
    }
    read_progress.add(batch.size());
    batch.clear();
    batch_info.clear();
  };
  json rec;
  size_t total_calls = 0, to_answer = 0;
  while (reader.next(rec)) {
    const json ann = rec.value("ann", json::object());
    if (!ann.contains("cluster") || !ann["cluster"].is_object() || !ann["cluster"].contains("id"))
      throw_usage(reader.location(), "has no ann.cluster", "give the output of `slmify cluster` as CLUSTER_DIR");
    const int32_t cid = ann["cluster"]["id"].get<int32_t>();
    const bool eval = ann.value("split", "") == "eval";
    ClusterRun& r = runs.count(cid) ? runs[cid] : runs[-1];
    CallFacts f;
    view_texts(rec, f);
    ++total_calls;
    r.calls += 1;
    r.tokens += f.prompt_tokens + f.completion_tokens;
    if (rec.contains("cost_usd") && rec["cost_usd"].is_number()) r.cost += f.cost_usd, ++r.cost_n;
    if (f.latency_ms >= 0) r.latency_sum += f.latency_ms, ++r.latency_n;
    if (!eval) r.longest_train_answer = std::max(r.longest_train_answer, int64_t(f.completion_tokens));
    if (eval) {
      ++r.eval_calls;
      if (r.adapter && (ec.limit == 0 || r.evaluated.size() < static_cast<size_t>(ec.limit))) {
        r.evaluated.push_back({rec, reply_from_response(rec["response"]), {}, {}, {}, {}});
        ++to_answer;
      }
    }
    batch.push_back(router_request_record(rec, rec.value("id", std::string())));
    batch_info.push_back({cid, eval});
    if (batch.size() >= kAssignBatch) flush();
  }
  flush();
  read_progress.done();

  // The router's outlier distance per centroid, from requests alone: the outlier_quantile of the
  // distances of the cluster's own training calls that land nearest to it.
  const double q = clusters_doc.value("outlier_quantile", 0.99);
  std::vector<double>& limit = assigner.row_outlier_dist();
  const std::vector<double> cluster_limit = limit;
  for (size_t row = 0; row < limit.size(); ++row)
    if (!calibration[row].empty()) limit[row] = std::max(kMinOutlierDist, quantile(calibration[row], q));

  // Answers: each adapter's model on its clusters' held-out calls, then the base model on all.
  std::map<const EvalCall*, std::string> kind;
  std::map<const EvalCall*, int64_t> cap;
  std::map<const AdapterEntry*, std::vector<EvalCall*>> by_adapter;
  std::map<std::string, std::vector<EvalCall*>> by_base;
  std::map<std::string, std::string> base_template;  // an adapter's directory: the template its base was trained with
  for (auto& [id, r] : runs)
    for (EvalCall& c : r.evaluated) kind[&c] = r.kind, cap[&c] = answer_cap(ec, r.longest_train_answer), by_adapter[r.adapter].push_back(&c),
                                    by_base[r.adapter->base].push_back(&c), base_template.emplace(r.adapter->base, r.adapter->dir);
  log_info("eval: " + std::to_string(to_answer) + " held-out calls of " + std::to_string(by_adapter.size()) + " adapters to answer" +
           (ec.compare_base ? ", with and without the adapter" : "") + (ec.limit ? " (at most " + std::to_string(ec.limit) + " per cluster)" : ""));
  if (ec.limit > 0 && ec.limit < ec.min_calls)
    log_warn("eval: --limit " + std::to_string(ec.limit) + " is below eval.min_calls " + std::to_string(ec.min_calls) + ": no cluster can be judged replaceable");
  std::string device;
  {
    Progress progress("eval: generate", to_answer * (ec.compare_base ? 2 : 1), "answers");
    for (auto& [adapter, calls] : by_adapter) {
      backend.load({adapter->base, adapter->dir, adapter->method});
      device = backend.device();
      generate_all(backend, calls, false, ec.batch_size, progress, kind, cap);
    }
    if (ec.compare_base)
      for (auto& [base, calls] : by_base) {
        // The base answers with the prompt its adapters were trained on (the same template), so
        // that the comparison is of the weights alone.
        backend.load({base, "", "lora", base_template[base]});
        generate_all(backend, calls, true, ec.batch_size, progress, kind, cap);
      }
    progress.done();
  }

  // Decisions per cluster, the router, and how the router treats each held-out call.
  const json thresholds = config_to_json(config, "eval")["thresholds"];
  json router_clusters = json::array(), cluster_rows = json::array();
  for (auto& [id, r] : runs) {
    if (id < 0) continue;
    const std::string metric = primary_metric_of(r.kind);
    const double threshold = thresholds.value(r.kind, thresholds.value("text", 0.5));
    json slm = aggregate(r.evaluated, false);
    const double score = slm.value(metric, 0.0);
    if (!r.adapter) r.reason = "no adapter" + (r.skipped.empty() ? std::string(": finetune trained none for it") : ": " + r.skipped);
    else if (r.evaluated.empty()) r.reason = "no held-out calls to evaluate";
    else if (r.evaluated.size() < static_cast<size_t>(ec.min_calls))
      r.reason = "only " + std::to_string(r.evaluated.size()) + " held-out calls evaluated (eval.min_calls is " + std::to_string(ec.min_calls) + ")";
    else {
      r.replaceable = score >= threshold;
      r.reason = metric + " " + fixed(score, 3) + (r.replaceable ? " >= " : " < ") + fixed(threshold, 2) + " on " +
                 std::to_string(r.evaluated.size()) + " held-out calls";
    }
    json entry = {{"id", id}, {"label", r.label}, {"output_kind", r.kind}, {"route", r.replaceable ? "slm" : "llm"},
                  {"primary_metric", metric}, {"threshold", threshold}, {"score", r.evaluated.empty() ? json(nullptr) : json(round4(score))},
                  {"reason", r.reason}, {"outlier_dist", row_of.count(id) ? round4(limit[row_of[id]]) : 0.0}};
    if (r.adapter) entry["adapter"] = r.adapter->name, entry["adapter_dir"] = r.adapter->dir, entry["method"] = r.adapter->method;
    router_clusters.push_back(entry);
  }
  for (size_t row = 0; row < limit.size(); ++row)
    cluster_rows.push_back({{"row", row}, {"cluster", assigner.row_cluster()[row]}, {"outlier_dist", round4(limit[row])},
                            {"cluster_outlier_dist", cluster_limit[row]}, {"calibration_calls", calibration[row].size()}});
  // The assigner compares with the rounded distances router.json holds, as the router will.
  for (size_t row = 0; row < limit.size(); ++row) limit[row] = round4(limit[row]);

  const json emb = clusters_doc.value("embedding", json::object());
  json router_doc = {{"format", kRouterFormat},
                     {"version", kRouterVersion},
                     {"base", ft.base},
                     {"clusters_dir", fs::absolute(cluster_dir).lexically_normal().string()},
                     {"clusters_digest", manifest_read(cluster_dir).digest},
                     {"finetune_dir", fs::absolute(finetune_dir).lexically_normal().string()},
                     {"assignment", {{"embedding", emb.value("kind", std::string("hashing"))}, {"parts", emb.value("parts", json::array())},
                                     {"templates", emb.value("templates", false)}, {"request_only", true},
                                     {"distance", "cosine distance 1 - cos(request, centroid)"},
                                     {"outlier_quantile", q}, {"min_outlier_dist", kMinOutlierDist}}},
                     {"centroids", cluster_rows},
                     {"clusters", router_clusters},
                     {"default", {{"route", "llm"}, {"reason", "outliers and the small clusters of `other` stay on the LLM"}}}};
  RouterTable table = RouterTable::from_json(router_doc, "router.json");
  std::string routes;
  size_t routed_slm = 0, routed_right = 0, routed_outlier = 0;
  for (Placed& p : held_out) {
    p.a.outlier = p.a.dist > limit[static_cast<size_t>(p.a.row)];  // placed before the recalibration
    p.a.id = p.a.outlier ? -1 : p.a.nearest;
    RouteDecision d = table.decide(p.a);
    ClusterRun& r = runs.count(p.cluster) ? runs[p.cluster] : runs[-1];
    if (d.route == "slm") ++routed_slm, (d.cluster == p.cluster ? ++r.routed_own, ++routed_right : ++r.routed_other);
    else ++r.routed_llm, routed_outlier += p.a.outlier;
    routes += json{{"id", p.id}, {"cluster", p.cluster}, {"predicted", route_decision_to_json(d)}}.dump() + "\n";
  }

  // The per-cluster table and the totals.
  const bool show_text = !config.encryption.enabled;  // encrypted data: no call text outside the shards
  double all_tokens = 0, all_cost = 0;
  size_t all_cost_n = 0;
  for (auto& [id, r] : runs) all_tokens += r.tokens, all_cost += r.cost, all_cost_n += r.cost_n;
  const bool have_cost = all_cost_n > 0;
  double moved_calls = 0, moved_tokens = 0, moved_cost = 0, slm_cost = 0, llm_ms = 0, llm_ms_n = 0, slm_ms = 0, slm_ms_n = 0;
  json table_rows = json::array();
  std::string samples;
  for (auto& [id, r] : runs) {
    json row = {{"id", id}, {"label", r.label}, {"output_kind", r.kind}, {"calls", r.calls},
                {"share_calls", total_calls ? r.calls / double(total_calls) : 0.0}, {"tokens", r.tokens},
                {"share_tokens", all_tokens > 0 ? r.tokens / all_tokens : 0.0},
                {"cost_usd", have_cost ? json(r.cost) : json(nullptr)},
                {"share_cost", have_cost && all_cost > 0 ? json(r.cost / all_cost) : json(nullptr)},
                {"llm_latency_ms_mean", r.latency_n ? json(std::round(r.latency_sum / double(r.latency_n))) : json(nullptr)},
                {"eval_calls", r.eval_calls}, {"evaluated", r.evaluated.size()},
                {"routing", {{"held_out", r.routed_own + r.routed_other + r.routed_llm}, {"to_own_slm", r.routed_own},
                             {"to_another_slm", r.routed_other}, {"to_llm", r.routed_llm}}}};
    if (id < 0) {
      row["decision"] = "llm";
      row["reason"] = "the small clusters of `other` stay on the LLM";
      table_rows.push_back(row);
      continue;
    }
    const std::string metric = primary_metric_of(r.kind);
    row["primary_metric"] = metric;
    row["threshold"] = thresholds.value(r.kind, 0.5);
    row["adapter"] = r.adapter ? json(r.adapter->name) : json(nullptr);
    row["method"] = r.adapter ? json(r.adapter->method) : json(nullptr);
    row["slm"] = r.evaluated.empty() ? json(nullptr) : aggregate(r.evaluated, false);
    row["base"] = r.evaluated.empty() || !ec.compare_base ? json(nullptr) : aggregate(r.evaluated, true);
    if (row["base"].is_object()) row["gain"] = round4(row["slm"].value(metric, 0.0) - row["base"].value(metric, 0.0));
    row["replaceable"] = r.replaceable;
    row["decision"] = r.replaceable ? "slm" : "llm";
    row["reason"] = r.reason;
    if (show_text && ec.examples > 0) row["examples"] = examples_of(r, ec.examples, ec.compare_base);
    if (r.replaceable) {
      moved_calls += r.calls, moved_tokens += r.tokens, moved_cost += r.cost;
      slm_cost += r.tokens * ec.slm_cost_per_mtok / 1e6;
      if (r.latency_n && row["slm"]["latency_ms_mean"].is_number()) {
        llm_ms += r.calls * r.latency_sum / double(r.latency_n), llm_ms_n += r.calls;
        slm_ms += r.calls * row["slm"]["latency_ms_mean"].get<double>(), slm_ms_n += r.calls;
      }
    }
    table_rows.push_back(row);
    for (const EvalCall& c : r.evaluated) {
      json s = {{"id", c.record.value("id", "")}, {"cluster", id}, {"slm", {{"finish_reason", c.slm.finish_reason}, {"scores", scores_to_json(c.slm_scores)}}}};
      if (!c.slm.error.empty()) s["slm"]["error"] = c.slm.error;
      if (show_text) s["llm_text"] = reply_text(c.reference), s["slm"]["text"] = c.slm.text;
      if (ec.compare_base) {
        s["base"] = {{"finish_reason", c.base.finish_reason}, {"scores", scores_to_json(c.base_scores)}};
        if (show_text) s["base"]["text"] = c.base.text;
      }
      samples += s.dump() + "\n";
    }
  }
  const double held = static_cast<double>(held_out.size());
  json totals = {
      {"calls", total_calls}, {"tokens", all_tokens}, {"cost_usd", have_cost ? json(all_cost) : json(nullptr)},
      {"clusters", runs.size() - 1}, {"clusters_evaluated", std::count_if(runs.begin(), runs.end(), [](auto& p) { return !p.second.evaluated.empty(); })},
      {"clusters_replaceable", std::count_if(runs.begin(), runs.end(), [](auto& p) { return p.second.replaceable; })},
      {"share_calls", total_calls ? moved_calls / double(total_calls) : 0.0},
      {"share_tokens", all_tokens > 0 ? moved_tokens / all_tokens : 0.0},
      {"share_cost", have_cost && all_cost > 0 ? json(moved_cost / all_cost) : json(nullptr)},
      {"savings", {{"llm_cost_usd", have_cost ? json(moved_cost) : json(nullptr)}, {"slm_cost_usd", slm_cost},
                   {"saved_usd", have_cost ? json(moved_cost - slm_cost) : json(nullptr)},
                   {"saved_share_of_cost", have_cost && all_cost > 0 ? json((moved_cost - slm_cost) / all_cost) : json(nullptr)},
                   {"slm_cost_per_mtok", ec.slm_cost_per_mtok},
                   {"llm_latency_ms_mean", llm_ms_n ? json(std::round(llm_ms / llm_ms_n)) : json(nullptr)},
                   {"slm_latency_ms_mean", slm_ms_n ? json(std::round(slm_ms / slm_ms_n)) : json(nullptr)},
                   {"saved_ms_per_call", llm_ms_n ? json(std::round((llm_ms - slm_ms) / llm_ms_n)) : json(nullptr)},
                   {"saved_hours", llm_ms_n ? json(round4((llm_ms - slm_ms) / 3.6e6)) : json(nullptr)},
                   {"slm_measured_on", device.empty() ? json(nullptr) : json(device + ", batches of " + std::to_string(ec.batch_size))}}},
      {"routing", {{"held_out", held_out.size()}, {"to_slm", held ? routed_slm / held : 0.0}, {"to_right_slm", held ? routed_right / held : 0.0},
                   {"to_wrong_slm", held ? (routed_slm - routed_right) / held : 0.0}, {"outliers", held ? routed_outlier / held : 0.0}}}};
  json report = {{"format", "slmify-eval-report"}, {"version", 1}, {"clusters_dir", router_doc["clusters_dir"]},
                 {"finetune_dir", router_doc["finetune_dir"]}, {"base", ft.base}, {"limit", ec.limit},
                 {"max_new_tokens", ec.max_new_tokens}, {"compare_base", ec.compare_base}, {"totals", totals}, {"clusters", table_rows}};

  // The files, all in one atomic commit.
  const fs::path tmp = writer.staging_dir();
  fs::create_directories(tmp / "router");
  json files = json::object();
  for (const char* name : {"centroids.faiss", "embedder.bin", "clusters.json"}) {
    std::error_code ec_copy;
    if (!fs::exists(fs::path(cluster_dir) / name, ec_copy)) continue;  // embedding: model has no embedder.bin
    fs::copy_file(fs::path(cluster_dir) / name, tmp / "router" / name, ec_copy);
    if (ec_copy) throw_errno("copying", (fs::path(cluster_dir) / name).string(), ec_copy.value());
    files[name] = sha256_file(tmp / "router" / name);
  }
  router_doc["files"] = files;
  auto write = [&](const fs::path& p, const std::string& content) {
    FileSink out(p, 0600);
    out.write(content);
    out.finish();
  };
  write(tmp / "router" / "router.json", router_doc.dump(2) + "\n");
  write(tmp / "report.json", report.dump(2) + "\n");
  write(tmp / "report.html", eval_report_html(report));
  write(tmp / "samples.jsonl", samples);
  write(tmp / "routes.jsonl", routes);
  writer.stats() = {{"totals", totals}, {"replaceable", json::array()}};
  for (auto& [id, r] : runs)
    if (r.replaceable) writer.stats()["replaceable"].push_back(id);
  ArtifactManifest m = writer.commit();
  log_info("eval: " + std::to_string(totals["clusters_replaceable"].get<int64_t>()) + " of " + std::to_string(runs.size() - 1) +
           " clusters replaceable: " + fixed(100 * totals["share_calls"].get<double>(), 1) + "% of calls, " +
           fixed(100 * totals["share_tokens"].get<double>(), 1) + "% of tokens" +
           (have_cost ? ", " + fixed(100 * totals["share_cost"].get<double>(), 1) + "% of cost" : std::string()) + " can move to small models");
  return {{"stage", "eval"}, {"output", io.output}, {"totals", totals}, {"replaceable", writer.stats()["replaceable"]},
          {"digest", m.digest}};
}

}  // namespace slmify
