// `slmify cluster IN -o OUT --assign CLUSTERS_DIR`: new calls into existing clusters, embedded with
// the saved model and matched to the saved centroid index; calls farther than their nearest
// cluster's calibrated distance (the outlier_quantile of its own calls' distances) are outliers.
// Behaviour: docs/cluster.md. Tested by tests/cluster/test_cluster.cpp.
#include <cmath>
#include <map>
#include <optional>
#include <utility>

#include "cluster/calls.h"
#include "cluster/cluster.h"
#include "cluster/embed_model.h"
#include "cluster/kmeans.h"
#include "core/dataset.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/hash.h"
#include "core/log.h"

namespace slmify {

namespace fs = std::filesystem;

namespace {

const char* kRerun = "run `slmify cluster` again to write the cluster directory anew";

// The reference clusters as saved: per index row its cluster id and calibrated distance.
struct Reference {
  Manifest manifest;
  json clusters;
  std::vector<int32_t> row_cluster;
  std::vector<double> row_outlier;
};

void reference_read_clusters(const fs::path& dir, Reference& r) {
  std::error_code ec;
  if (!fs::exists(dir / "clusters.json", ec)) throw_bad_data((dir / "clusters.json").string(), "is missing from the cluster directory", kRerun);
  r.clusters = json::parse(read_file(dir / "clusters.json"), nullptr, false);
  if (r.clusters.is_discarded() || !r.clusters.contains("centroids"))
    throw_bad_data((dir / "clusters.json").string(), "is not a readable clusters.json", kRerun);
  for (const json& c : r.clusters["centroids"]) {
    r.row_cluster.push_back(c.at("cluster").get<int32_t>());
    r.row_outlier.push_back(c.at("outlier_dist").get<double>());
  }
}

Reference reference_load(const fs::path& dir, const std::string& where) {
  Reference r;
  r.manifest = manifest_read(dir);
  const json& files = r.manifest.stats.value("files", json::object());
  if (r.manifest.stage != "cluster" || !files.contains("centroids.faiss"))
    throw_usage(where, "is a dataset written by `" + r.manifest.stage + "`, not the clusters `slmify cluster` wrote",
                "give the output directory of `slmify cluster` (it holds clusters.json and centroids.faiss)");
  const bool with_model = files.contains("clusters.json") && !files.contains("embedder.bin");
  for (const char* name : {"centroids.faiss", "embedder.bin", "clusters.json"}) {
    if (with_model && std::string(name) == "embedder.bin") continue;  // embedding: model keeps no fitted model
    fs::path p = dir / name;
    std::error_code ec;
    if (!fs::exists(p, ec)) throw_bad_data(p.string(), "is missing from the cluster directory", kRerun);
    if (sha256_file(p) != files.value(name, ""))
      throw_bad_data(p.string(), "does not match the sha256 recorded in manifest.json (it was changed after the cluster run)", kRerun);
  }
  reference_read_clusters(dir, r);
  return r;
}

// What placing calls needs: the embedding (fitted model or named encoder), the template miner and
// the centroid index with each row's cluster and outlier distance.
struct AssignModel {
  Reference ref;
  std::string dir;
  bool with_model = false;
  std::string model_dir;
  std::optional<Embedder> embedder;
  std::array<bool, part_count> parts{};
  bool templates = false;
  PromptTemplates miner;
  int k = 0, d = 0;
  std::vector<float> centroids;

  AssignModel(Reference r, const fs::path& clusters_dir) : ref(std::move(r)), dir(clusters_dir.string()) {
    json extra;
    const json& emb = ref.clusters.value("embedding", json::object());
    with_model = emb.value("kind", std::string("hashing")) == "model";
    if (with_model) {
      parts = view_parts_selected(emb.value("parts", std::vector<std::string>{}));
      model_dir = emb.value("model", std::string());
    } else {
      embedder = Embedder::load(clusters_dir / "embedder.bin", extra);
      parts = embedder->settings().parts;
    }
    centroids = centroid_index_read(clusters_dir / "centroids.faiss", k, d);
    if ((embedder && d != embedder->dim()) || static_cast<size_t>(k) != ref.row_cluster.size())
      throw_bad_data(dir, "centroids.faiss (" + std::to_string(k) + " x " + std::to_string(d) +
                              ") does not fit embedder.bin and clusters.json", kRerun);
    templates = parts[part_template] && extra.contains("miner") && extra["miner"].is_object();
    if (templates) miner = PromptTemplates::from_json(extra["miner"]);
    else parts[part_template] = false;
  }

  std::vector<ClusterAssignment> assign_corpus(const Corpus& corpus) const {
    const size_t n = corpus.calls();
    std::vector<float> x;
    if (with_model) {
      int dm = 0;
      json stats;
      x = embed_with_model(corpus, parts, model_dir, dm, stats);
      if (dm != d)
        throw_bad_data(dir, "the embedding model gives " + std::to_string(dm) + " dimensions but centroids.faiss has " + std::to_string(d),
                       std::string("cluster.embedding_model changed since the cluster run: ") + kRerun);
    } else {
      x = embedder->transform(corpus);
    }
    std::vector<int32_t> nearest;
    std::vector<float> sim;
    kmeans_assign(centroids.data(), k, d, x.data(), n, nearest, sim);
    std::vector<ClusterAssignment> out(n);
    for (size_t i = 0; i < n; ++i) {
      ClusterAssignment& a = out[i];
      a.row = nearest[i];
      a.dist = 1.0 - sim[i];
      a.nearest = ref.row_cluster[static_cast<size_t>(a.row)];
      a.outlier = a.dist > ref.row_outlier[static_cast<size_t>(a.row)];
      a.id = a.outlier ? -1 : a.nearest;
    }
    return out;
  }

  // A batch of records (one call each) as a corpus, templates matched against the saved miner.
  Corpus corpus_of(const std::vector<json>& records) {
    Corpus corpus;
    const int user = calls_template_source(parts);
    for (const json& rec : records) {
      bool ok = rec.is_object() && rec.contains("request") && rec["request"].is_object() && rec["request"].contains("messages") &&
                rec["request"]["messages"].is_array();
      for (size_t m = 0; ok && m < rec["request"]["messages"].size(); ++m) ok = rec["request"]["messages"][m].is_object();
      if (!ok)
        throw_bad_data(rec.value("id", std::string("a record")), "has no request.messages array of message objects",
                       "give OpenAI chat request bodies ({\"model\", \"messages\": [...], \"tools\": [...]})");
      const bool request_only = !rec.contains("response") || rec["response"].is_null();
      CallFacts facts;
      size_t c = request_only ? calls_add(corpus, json{{"id", rec.value("id", std::string())}, {"request", rec["request"]}, {"response", nullptr}},
                                          parts, facts, true)
                              : calls_add(corpus, rec, parts, facts, false);
      if (templates)
        if (int32_t u = corpus.of(c, user); u >= 0) corpus.add(c, part_template, miner.template_of(corpus.text(user, static_cast<size_t>(u))));
    }
    return corpus;
  }
};

}  // namespace

struct ClusterAssigner::Impl {
  AssignModel model;
};

ClusterAssigner::ClusterAssigner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClusterAssigner::ClusterAssigner(ClusterAssigner&&) noexcept = default;
ClusterAssigner& ClusterAssigner::operator=(ClusterAssigner&&) noexcept = default;
ClusterAssigner::~ClusterAssigner() = default;

ClusterAssigner ClusterAssigner::load(const fs::path& dir, bool verify, const std::string& where) {
  Reference r;
  if (verify) {
    r = reference_load(dir, where);
  } else {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw_io(where, "is not a directory", "give the directory that holds clusters.json and centroids.faiss");
    reference_read_clusters(dir, r);
  }
  return ClusterAssigner(std::unique_ptr<Impl>(new Impl{AssignModel(std::move(r), dir)}));
}

std::vector<ClusterAssignment> ClusterAssigner::assign(const std::vector<json>& records) {
  if (records.empty()) return {};
  return impl_->model.assign_corpus(impl_->model.corpus_of(records));
}

ClusterAssignment ClusterAssigner::assign(const json& record) { return assign(std::vector<json>{record})[0]; }
const json& ClusterAssigner::clusters() const { return impl_->model.ref.clusters; }
const std::vector<int32_t>& ClusterAssigner::row_cluster() const { return impl_->model.ref.row_cluster; }
std::vector<double>& ClusterAssigner::row_outlier_dist() { return impl_->model.ref.row_outlier; }

json cluster_assign(const PipelineConfig& config, const StageIO& io, const std::string& clusters_dir, const Context&) {
  const ClusterConfig& cc = config.cluster;
  cluster_check_inputs(config, io, "cluster --assign");
  std::error_code ec;
  if (fs::weakly_canonical(io.output, ec) == fs::weakly_canonical(clusters_dir, ec))
    throw_usage("-o " + io.output, "is the cluster directory given to --assign; the new dataset would replace the clusters",
                "write the assigned calls to another directory");
  AssignModel am(reference_load(clusters_dir, "--assign " + clusters_dir), clusters_dir);
  const Reference& ref = am.ref;

  ReadOptions ro;
  stage_read_options(config, ro);
  DatasetReader reader(io.inputs[0], ro);
  if (reader.manifest().records() == 0)
    throw Error(ExitCode::nothing_to_do, io.inputs[0], "has no calls to assign", "nothing to do until new calls arrive");
  WriterOptions wo;
  stage_writer_options(config, "cluster", "cluster", wo);
  wo.file_mode = 0600;
  wo.inputs = {reader.input_ref(), InputRef{"dataset", clusters_dir, ref.manifest.digest}};
  DatasetWriter writer(io.output, wo);

  LoadedCalls calls = calls_load(reader, am.parts, am.templates ? &am.miner : nullptr, false);
  const size_t n = calls.facts.size();
  cluster_set_threads(config.threads, n);
  std::vector<ClusterAssignment> placed = am.assign_corpus(calls.corpus);
  std::vector<int32_t> id(n);
  std::vector<json> annotation(n);
  std::map<int32_t, size_t> count, outliers_near;
  size_t outliers = 0;
  for (size_t i = 0; i < n; ++i) {
    const ClusterAssignment& a = placed[i];
    id[i] = a.id;
    annotation[i] = {{"id", id[i]}, {"dist", std::round(a.dist * 1e4) / 1e4}};
    if (a.outlier) annotation[i]["outlier"] = true, annotation[i]["nearest"] = a.nearest, ++outliers, ++outliers_near[a.nearest];
    ++count[id[i]];
  }
  std::vector<bool> eval = eval_split(id, calls.facts, cc.eval_fraction, cc.eval_min, static_cast<uint64_t>(cc.seed));
  calls_write(io.inputs[0], ro, writer, annotation, eval, calls.facts, nullptr);

  // What retrain looks at: each cluster's share now against its share when it was clustered.
  json list = json::array();
  for (const json& c : ref.clusters.value("clusters", json::array())) {
    int32_t cid = c.at("id").get<int32_t>();
    double share = static_cast<double>(count[cid]) / static_cast<double>(n), before = c.value("share_calls", 0.0);
    list.push_back({{"id", cid}, {"label", c.value("label", "")}, {"calls", count[cid]}, {"share_calls", share},
                    {"reference_share_calls", before}, {"share_change", share - before}, {"outliers_nearest", outliers_near[cid]}});
  }
  json doc = {{"format", "slmify-assignment"}, {"version", 1}, {"clusters_dir", clusters_dir},
              {"clusters_digest", ref.manifest.digest}, {"calls", n}, {"outliers", outliers},
              {"outlier_share", static_cast<double>(outliers) / static_cast<double>(n)}, {"clusters", list}};
  json files = {{"assignment.json", write_extra_file(writer.staging_dir(), "assignment.json", doc.dump(2) + "\n", wo.file_mode)}};
  writer.stats() = {{"assigned_to", clusters_dir}, {"outliers", outliers}, {"files", files}, {"clusters", list}};
  Manifest m = writer.commit();
  log_info("assigned " + std::to_string(n) + " calls to the clusters of " + clusters_dir + ": " + std::to_string(outliers) + " outliers");
  const Accounting& a = m.accounting;
  return {{"stage", "cluster"}, {"mode", "assign"}, {"output", io.output}, {"in", a.in}, {"out", a.out},
          {"dropped", a.dropped}, {"quarantined", a.quarantined}, {"outliers", outliers},
          {"outlier_share", doc["outlier_share"]}, {"clusters", list}, {"digest", m.digest}};
}

}  // namespace slmify
