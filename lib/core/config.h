// pipeline.yaml schema v1 as plain structs with documented defaults. Each struct lists its keys
// once, in visit(): name, member, documentation and constraints. That one table drives loading
// and validation (config.cpp), --print-config, the per-key command-line flags, and the key
// reference in docs/pipeline.md (`slmify config reference`). Tested by tests/core/test_config.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/record.h"

namespace slmify {

/// A count that may be chosen automatically: `auto` or an integer.
struct AutoInt {
  bool is_auto = true;
  int64_t value = 0;
};

/// How a key is checked and documented.
struct FieldSpec {
  const char* doc = "";
  std::optional<double> min = {};          ///< numbers (and list lengths) at least this
  std::optional<double> max = {};          ///< numbers at most this
  std::vector<std::string> one_of = {};    ///< allowed values of a string (or of each list item)
  bool path = false;                       ///< a file path: relative ones are taken from the pipeline file's directory
  bool flag = true;                        ///< also settable as --key on the stage's command line
};

/// Every stage `slmify run` knows, in pipeline order; pretrain is optional (not in the default list).
inline const std::vector<std::string> kStageNames = {"collect", "scrub", "cluster", "pretrain", "select", "finetune", "eval"};
inline const std::vector<std::string> kDefaultStages = {"collect", "scrub", "cluster", "select", "finetune", "eval"};

struct DatasetConfig {
  int64_t shard_records = 50000;
  int64_t shard_mb = 256;
  int64_t zstd_level = 3;
  template <class V> void visit(V& v) {
    v("shard_records", shard_records, {.doc = "records per shard before a stage starts the next shard", .min = 1});
    v("shard_mb", shard_mb, {.doc = "uncompressed MiB per shard before a stage starts the next shard", .min = 1});
    v("zstd_level", zstd_level, {.doc = "zstd compression level of shards (1 fast .. 19 small)", .min = 1, .max = 19});
  }
};

struct EncryptionConfig {
  bool enabled = false;
  std::string key_file;
  std::string key_env = "SLMIFY_DATA_KEY";
  template <class V> void visit(V& v) {
    v("enabled", enabled, {.doc = "encrypt datasets at rest (XChaCha20-Poly1305); every stage then needs the key"});
    v("key_file", key_file, {.doc = "file holding the 32-byte key (hex); takes precedence over key_env", .path = true});
    v("key_env", key_env, {.doc = "environment variable holding the key (hex) when key_file is empty"});
  }
};

/// One rule that marks a call as human-facing (talking directly with a person).
struct HciRule {
  std::string agent;
  std::string metadata_key;
  std::string metadata_value;
  template <class V> void visit(V& v) {
    v("agent", agent, {.doc = "agent name (exact) whose calls talk to a person"});
    v("metadata_key", metadata_key, {.doc = "metadata key that marks a human-facing call"});
    v("metadata_value", metadata_value, {.doc = "value the key must have (empty: any true-ish value)"});
  }
};

struct CollectConfig {
  std::vector<std::string> inputs;
  std::string format = "auto";
  bool include_hci = false;
  std::vector<HciRule> hci_rules;
  std::string state;
  bool strict = false;
  int64_t max_line_mb = 16;
  int64_t max_depth = 256;
  template <class V> void visit(V& v) {
    v("inputs", inputs, {.doc = "log files, directories, globs or - (stdin); gzip and zstd are read transparently", .path = true, .flag = false});
    v("format", format, {.doc = "input format, or auto to detect it per file", .one_of = {"auto", "openai-chat", "openai-ft", "otel", "anthropic"}});
    v("include_hci", include_hci, {.doc = "keep calls that talk directly with a person (excluded by default)"});
    v("hci_rules", hci_rules, {.doc = "rules that mark a call as human-facing (agent name or metadata key)"});
    v("state", state, {.doc = "incremental state file: read only what is new since the last run", .path = true});
    v("strict", strict, {.doc = "fail the run on the first unreadable input instead of quarantining it"});
    v("max_line_mb", max_line_mb, {.doc = "lines longer than this many MiB are quarantined", .min = 1});
    v("max_depth", max_depth, {.doc = "values nested deeper than this many arrays and objects are quarantined, before they are parsed", .min = 1, .max = 1000});  // kMaxInputDepth
  }
};

/// A user-defined detector.
struct CustomDetector {
  std::string name;
  std::string regex;
  std::string validator = "none";
  std::string entity;
  template <class V> void visit(V& v) {
    v("name", name, {.doc = "rule name, used in reports and errors"});
    v("regex", regex, {.doc = "RE2 pattern; the whole match is replaced"});
    v("validator", validator, {.doc = "check a match must pass", .one_of = {"none", "luhn", "iban", "entropy"}});
    v("entity", entity, {.doc = "entity type the match is reported and replaced as (e.g. EMPLOYEE_ID)"});
  }
};

/// Words to find case-insensitively on word boundaries (customer names, code names).
struct WordList {
  std::string entity;
  std::string file;
  std::vector<std::string> words;
  template <class V> void visit(V& v) {
    v("entity", entity, {.doc = "entity type of the words (e.g. PERSON, PROJECT)"});
    v("file", file, {.doc = "text file with one word or phrase per line", .path = true});
    v("words", words, {.doc = "words or phrases given inline"});
  }
};

struct ScrubConfig {
  std::string replacement = "pseudonym";
  std::map<std::string, std::string> entity_replacement;
  std::vector<std::string> detectors = {"email", "phone", "card", "iban", "ssn", "ip", "mac", "url_credentials", "secret", "dob"};
  std::vector<CustomDetector> custom_detectors;
  std::vector<WordList> word_lists;
  std::vector<std::string> metadata_fields;
  std::string key_file;
  std::string key_env = "SLMIFY_SCRUB_KEY";
  bool drop_failed = true;
  bool drop_truncated = true;
  bool drop_empty = true;
  bool drop_invalid_tool_calls = true;
  int64_t min_prompt_tokens = 1;
  int64_t max_prompt_tokens = 32768;
  int64_t min_response_tokens = 1;
  int64_t max_response_tokens = 8192;
  std::string dedup = "near";
  double near_threshold = 0.9;
  int64_t shingle_words = 5;
  int64_t seed = 0;
  std::string report;
  template <class V> void visit(V& v) {
    v("replacement", replacement, {.doc = "how detected values are replaced", .one_of = {"pseudonym", "mask", "hash", "drop"}});
    v("entity_replacement", entity_replacement, {.doc = "per entity type, overrides replacement (e.g. {secret: drop})", .one_of = {"pseudonym", "mask", "hash", "drop"}, .flag = false});
    v("detectors", detectors, {.doc = "built-in detectors to run", .one_of = {"email", "phone", "card", "iban", "ssn", "ip", "mac", "url_credentials", "secret", "dob"}});
    v("custom_detectors", custom_detectors, {.doc = "extra regex detectors"});
    v("word_lists", word_lists, {.doc = "word lists matched case-insensitively on word boundaries"});
    v("metadata_fields", metadata_fields, {.doc = "meta.* fields to scan in addition to the messages"});
    v("key_file", key_file, {.doc = "file holding the secret key for pseudonyms and hashes", .path = true});
    v("key_env", key_env, {.doc = "environment variable holding that key when key_file is empty"});
    v("drop_failed", drop_failed, {.doc = "drop calls whose status is error"});
    v("drop_truncated", drop_truncated, {.doc = "drop responses cut off by the length limit (finish_reason length)"});
    v("drop_empty", drop_empty, {.doc = "drop responses with neither content nor tool calls"});
    v("drop_invalid_tool_calls", drop_invalid_tool_calls, {.doc = "drop tool calls whose arguments are not valid JSON or miss required fields"});
    v("min_prompt_tokens", min_prompt_tokens, {.doc = "drop prompts estimated shorter than this", .min = 0});
    v("max_prompt_tokens", max_prompt_tokens, {.doc = "drop prompts estimated longer than this", .min = 1});
    v("min_response_tokens", min_response_tokens, {.doc = "drop responses estimated shorter than this", .min = 0});
    v("max_response_tokens", max_response_tokens, {.doc = "drop responses estimated longer than this", .min = 1});
    v("dedup", dedup, {.doc = "de-duplication: none, exact (normalised hash) or near (MinHash LSH, includes exact)", .one_of = {"none", "exact", "near"}});
    v("near_threshold", near_threshold, {.doc = "Jaccard similarity above which two calls are near-duplicates", .min = 0.5, .max = 1.0});
    v("shingle_words", shingle_words, {.doc = "words per shingle for near-duplicate detection", .min = 1, .max = 16});
    v("seed", seed, {.doc = "seed of the MinHash permutations", .min = 0});
    v("report", report, {.doc = "also write a short human-readable summary here, with examples after replacement", .path = true});
  }
};

struct ClusterConfig {
  std::vector<std::string> view = {"system", "last_user", "tools", "response_shape"};
  bool templates = true;
  std::string embedding = "hashing";
  std::string embedding_model;
  int64_t dim = 256;
  int64_t hash_bits = 20;
  AutoInt k;
  int64_t k_min = 2;
  int64_t k_max = 32;
  int64_t restarts = 5;
  int64_t iterations = 50;
  int64_t min_cluster_size = 20;
  double eval_fraction = 0.1;
  int64_t eval_min = 5;
  double outlier_quantile = 0.99;
  int64_t seed = 0;
  template <class V> void visit(V& v) {
    v("view", view, {.doc = "parts of each call that are embedded", .min = 1, .one_of = {"system", "last_user", "all_user", "tools", "response_shape", "response"}});
    v("templates", templates, {.doc = "mine prompt templates (numbers, ids, quoted values masked) and use them as a feature"});
    v("embedding", embedding, {.doc = "hashing: TF-IDF of hashed n-grams + randomised SVD; model: a sentence-embedding model", .one_of = {"hashing", "model"}});
    v("embedding_model", embedding_model, {.doc = "HF directory of the sentence-embedding model (embedding: model)", .path = true});
    v("dim", dim, {.doc = "dimension of the dense embedding", .min = 8, .max = 4096});
    v("hash_bits", hash_bits, {.doc = "log2 of the hashed feature space", .min = 10, .max = 26});
    v("k", k, {.doc = "number of clusters, or auto to choose it by silhouette between k_min and k_max", .min = 1});
    v("k_min", k_min, {.doc = "smallest k tried by k: auto", .min = 2});
    v("k_max", k_max, {.doc = "largest k tried by k: auto", .min = 2});
    v("restarts", restarts, {.doc = "k-means restarts (the best objective is kept)", .min = 1});
    v("iterations", iterations, {.doc = "k-means iterations per restart", .min = 1});
    v("min_cluster_size", min_cluster_size, {.doc = "smaller clusters join the `other` group that stays on the LLM", .min = 1});
    v("eval_fraction", eval_fraction, {.doc = "share of each cluster held out for evaluation", .min = 0.0, .max = 0.5});
    v("eval_min", eval_min, {.doc = "at least this many held-out calls per cluster (when it has enough)", .min = 0});
    v("outlier_quantile", outlier_quantile, {.doc = "quantile of member distances beyond which a new call is an outlier", .min = 0.5, .max = 1.0});
    v("seed", seed, {.doc = "seed for SVD, k-means and the eval split", .min = 0});
  }
};

struct SelectConfig {
  std::vector<std::string> catalogs;
  std::vector<std::string> model_paths;
  double max_params_b = 8.0;
  double train_memory_gb = 24.0;
  double serve_memory_gb = 16.0;
  std::vector<std::string> licenses;
  double context_headroom = 1.25;
  int64_t candidates = 2;
  bool probe = true;
  int64_t probe_samples = 32;
  int64_t min_cluster_calls = 50;
  bool prefer_local = true;
  int64_t probe_max_tokens = 2048;
  std::string device = "auto";
  std::string dtype = "auto";
  template <class V> void visit(V& v) {
    v("catalogs", catalogs, {.doc = "catalog files that extend or override the built-in model catalog", .path = true});
    v("model_paths", model_paths, {.doc = "local HF model directories matched to catalog entries", .path = true});
    v("max_params_b", max_params_b, {.doc = "largest model considered, in billions of parameters", .min = 0.001});
    v("train_memory_gb", train_memory_gb, {.doc = "accelerator memory available for LoRA training, GiB", .min = 0.1});
    v("serve_memory_gb", serve_memory_gb, {.doc = "accelerator memory available for serving, GiB", .min = 0.1});
    v("licenses", licenses, {.doc = "allowed licences (SPDX-like ids as in the catalog); empty allows all"});
    v("context_headroom", context_headroom, {.doc = "required context = longest call of the cluster times this", .min = 1.0});
    v("candidates", candidates, {.doc = "candidates kept per cluster", .min = 1});
    v("probe", probe, {.doc = "measure zero-shot loss of locally available candidates on the cluster's calls"});
    v("probe_samples", probe_samples, {.doc = "eval calls per cluster used by the probe", .min = 1});
    v("min_cluster_calls", min_cluster_calls, {.doc = "clusters with fewer calls stay on the LLM", .min = 1});
    v("prefer_local", prefer_local, {.doc = "rank candidates found in model_paths above catalog models that would have to be downloaded"});
    v("probe_max_tokens", probe_max_tokens, {.doc = "the probe skips calls longer than this many tokens (in the candidate's tokenizer)", .min = 16});
    v("device", device, {.doc = "where the probe runs the candidates", .one_of = {"auto", "cpu", "cuda"}});
    v("dtype", dtype, {.doc = "dtype of the probed weights (auto: bf16 where supported)", .one_of = {"auto", "fp32", "bf16"}});
  }
};

struct FinetuneConfig {
  std::string base;
  std::string method = "lora";
  int64_t lora_rank = 16;
  double lora_alpha = 32;
  double lora_dropout = 0.05;
  bool rslora = false;
  std::vector<std::string> target_modules = {"all-linear"};
  int64_t max_length = 1024;
  bool packing = true;
  bool shared_prefix = false;
  int64_t eval_loss_examples = 64;
  int64_t batch_size = 8;
  int64_t grad_accum = 1;
  double lr = 2e-4;
  double weight_decay = 0.0;
  double warmup_ratio = 0.05;
  int64_t epochs = 3;
  int64_t max_steps = 0;
  double grad_clip = 1.0;
  int64_t eval_every = 50;
  int64_t early_stopping_patience = 3;
  int64_t save_every = 100;
  std::string device = "auto";
  std::string dtype = "auto";
  bool multi_adapter = false;
  std::string chat_template = "auto";
  int64_t seed = 0;
  std::string plan;
  std::vector<std::string> clusters;
  bool all = false;
  int64_t min_examples = 8;
  bool prompt_loss = false;
  std::string init_from;
  template <class V> void visit(V& v) {
    v("base", base, {.doc = "HF model directory of the base model, used where the plan names no local model", .path = true});
    v("plan", plan, {.doc = "select's plan.yaml: which clusters to train and on which base (slmify run passes it)", .path = true});
    v("clusters", clusters, {.doc = "cluster ids to train (empty: every cluster the plan or the dataset has)"});
    v("all", all, {.doc = "train one adapter on every call, ignoring clusters (also for a dataset without clusters)"});
    v("init_from", init_from, {.doc = "start each cluster's LoRA from its adapter in this finetune or registry directory (adapters.json) instead of from zero; retrain sets it", .path = true});
    v("prompt_loss", prompt_loss, {.doc = "also train on the prompt tokens, not only the response (pre-training on the calls' text)"});
    v("min_examples", min_examples, {.doc = "clusters with fewer usable training examples are skipped (stay on the LLM)", .min = 1});
    v("method", method, {.doc = "lora, or full fine-tuning (tiny models only)", .one_of = {"lora", "full"}});
    v("lora_rank", lora_rank, {.doc = "LoRA rank r", .min = 1, .max = 512});
    v("lora_alpha", lora_alpha, {.doc = "LoRA alpha (scale alpha/r, or alpha/sqrt(r) with rslora)", .min = 0.0});
    v("lora_dropout", lora_dropout, {.doc = "dropout on the LoRA input", .min = 0.0, .max = 0.9});
    v("rslora", rslora, {.doc = "rank-stabilised scaling alpha/sqrt(r)"});
    v("target_modules", target_modules, {.doc = "modules that get LoRA: all-linear, or names such as q_proj, v_proj", .min = 1});
    v("max_length", max_length, {.doc = "longest training sequence in tokens; longer examples are counted and skipped", .min = 16});
    v("packing", packing, {.doc = "pack several examples into one sequence"});
    v("shared_prefix", shared_prefix, {.doc = "with packing, calls that share a prompt prefix (system prompt, tools) share one copy of it in a row, each attending to it and to itself only: the same loss and gradients as separate rows, for fewer tokens"});
    v("eval_loss_examples", eval_loss_examples, {.doc = "eval loss during training on at most this many of each cluster's eval calls (0: all), so evaluating costs less than training", .min = 0});
    v("batch_size", batch_size, {.doc = "sequences per micro-batch", .min = 1});
    v("grad_accum", grad_accum, {.doc = "micro-batches per optimiser step", .min = 1});
    v("lr", lr, {.doc = "peak learning rate (AdamW)", .min = 0.0, .max = 1.0});
    v("weight_decay", weight_decay, {.doc = "AdamW weight decay", .min = 0.0});
    v("warmup_ratio", warmup_ratio, {.doc = "share of steps with linear warm-up before the cosine decay", .min = 0.0, .max = 1.0});
    v("epochs", epochs, {.doc = "passes over the training split", .min = 1});
    v("max_steps", max_steps, {.doc = "stop after this many optimiser steps (0: run all epochs)", .min = 0});
    v("grad_clip", grad_clip, {.doc = "clip the gradient norm to this (0: off)", .min = 0.0});
    v("eval_every", eval_every, {.doc = "optimiser steps between evaluations on the eval split", .min = 1});
    v("early_stopping_patience", early_stopping_patience, {.doc = "evaluations without improvement before stopping (0: off)", .min = 0});
    v("save_every", save_every, {.doc = "optimiser steps between resumable checkpoints", .min = 1});
    v("device", device, {.doc = "where to train", .one_of = {"auto", "cpu", "cuda"}});
    v("dtype", dtype, {.doc = "dtype of the frozen base weights (auto: bf16 where supported)", .one_of = {"auto", "fp32", "bf16"}});
    v("multi_adapter", multi_adapter, {.doc = "train several clusters' adapters in the same steps over the shared base"});
    v("chat_template", chat_template, {.doc = "auto (the model's own; chatml-tools where that cannot show the calls' tools or the model has none), a built-in name, or a .jinja file; written into every adapter"});
    v("seed", seed, {.doc = "seed for initialisation, dropout and data order", .min = 0});
  }
};

/// The optional pretrain stage: a small model made from scratch (`slmify model init`, tokenizer
/// trained on the calls) and briefly pre-trained on the training split's text, for machines that
/// cannot download a base model (the quick start).
struct PretrainConfig {
  std::string size = "tiny";
  int64_t max_steps = 200;
  int64_t max_length = 1024;
  int64_t batch_size = 8;
  double lr = 5e-3;
  bool prompt_loss = true;
  std::string device = "auto";
  int64_t seed = 0;
  template <class V> void visit(V& v) {
    v("size", size, {.doc = "model size of `slmify model init`", .one_of = {"tiny", "small"}});
    v("max_steps", max_steps, {.doc = "optimiser steps of pre-training", .min = 1});
    v("max_length", max_length, {.doc = "longest training sequence in tokens; with prompt_loss longer calls are cut into windows of this length, without it they are skipped", .min = 16});
    v("batch_size", batch_size, {.doc = "sequences per step", .min = 1});
    v("lr", lr, {.doc = "peak learning rate (AdamW, warm-up then cosine)", .min = 0.0, .max = 1.0});
    v("prompt_loss", prompt_loss, {.doc = "train on every token of the calls, not only the responses"});
    v("device", device, {.doc = "where to train", .one_of = {"auto", "cpu", "cuda"}});
    v("seed", seed, {.doc = "seed of the initial weights, the tokenizer sample and the data order", .min = 0});
  }
};

/// Replaceability thresholds on each output kind's primary metric.
struct EvalThresholds {
  double tool_call = 0.9;
  double json = 0.9;
  double code = 0.8;
  double text = 0.5;
  template <class V> void visit(V& v) {
    v("tool_call", tool_call, {.doc = "tool calls: share with the right function and matching arguments", .min = 0.0, .max = 1.0});
    v("json", json, {.doc = "JSON answers: field-level F1", .min = 0.0, .max = 1.0});
    v("code", code, {.doc = "code answers: exact match after normalisation", .min = 0.0, .max = 1.0});
    v("text", text, {.doc = "free text: ROUGE-L F1", .min = 0.0, .max = 1.0});
  }
};

struct EvalConfig {
  int64_t limit = 0;
  int64_t max_new_tokens = 256;
  double answer_length_factor = 2.0;
  int64_t batch_size = 8;
  bool compare_base = true;
  int64_t min_calls = 5;
  int64_t examples = 2;
  EvalThresholds thresholds;
  double slm_cost_per_mtok = 0.05;
  std::string device = "auto";
  template <class V> void visit(V& v) {
    v("limit", limit, {.doc = "evaluate at most this many calls per cluster (0: all)", .min = 0});
    v("max_new_tokens", max_new_tokens, {.doc = "longest generated answer", .min = 1});
    v("answer_length_factor", answer_length_factor, {.doc = "a cluster's answers stop at this many times its longest LLM answer among the training calls (+32 tokens), within max_new_tokens (0: always max_new_tokens)", .min = 0.0});
    v("batch_size", batch_size, {.doc = "sequences generated together", .min = 1});
    v("compare_base", compare_base, {.doc = "also evaluate the base model without adapter"});
    v("min_calls", min_calls, {.doc = "a cluster with fewer evaluated held-out calls is not judged replaceable", .min = 1});
    v("examples", examples, {.doc = "side-by-side examples per cluster in the report: this many of the worst answers and as many of the best", .min = 0, .max = 50});
    v("thresholds", thresholds, {.doc = "a cluster is replaceable when its primary metric reaches this"});
    v("slm_cost_per_mtok", slm_cost_per_mtok, {.doc = "cost of the SLM per million tokens, USD, for the savings estimate", .min = 0.0});
    v("device", device, {.doc = "where to generate", .one_of = {"auto", "cpu", "cuda"}});
  }
};

struct RetrainConfig {
  int64_t min_new_calls = 100;
  double drift_outlier_share = 0.1;
  double drift_share_change = 0.1;
  std::string recluster = "propose";
  std::string init_from = "serving";
  double promote_margin = 0.02;
  int64_t keep_versions = 10;
  template <class V> void visit(V& v) {
    v("min_new_calls", min_new_calls, {.doc = "a cluster is retrained when it has at least this many new calls", .min = 1});
    v("drift_outlier_share", drift_outlier_share, {.doc = "share of new calls that are outliers above which drift is reported", .min = 0.0, .max = 1.0});
    v("drift_share_change", drift_share_change, {.doc = "change in a cluster's share of calls above which drift is reported", .min = 0.0, .max = 1.0});
    v("recluster", recluster, {.doc = "on drift: never, propose (report only) or auto (re-cluster)", .one_of = {"never", "propose", "auto"}});
    v("init_from", init_from, {.doc = "start retraining from the serving adapter or from scratch", .one_of = {"serving", "scratch"}});
    v("promote_margin", promote_margin, {.doc = "the new adapter must beat the serving one by this on the primary metric", .min = 0.0});
    v("keep_versions", keep_versions, {.doc = "versions kept in the registry", .min = 1});
  }
};

struct PipelineConfig {
  int64_t version = 1;
  std::string name = "slmify";
  std::string workdir = "runs/slmify";
  std::vector<std::string> stages = kDefaultStages;
  int64_t threads = 0;
  DatasetConfig dataset;
  EncryptionConfig encryption;
  CollectConfig collect;
  ScrubConfig scrub;
  ClusterConfig cluster;
  PretrainConfig pretrain;
  SelectConfig select;
  FinetuneConfig finetune;
  EvalConfig eval;
  RetrainConfig retrain;
  /// Where each key was set: key path -> "file:line:col" (or the flag), filled by config_load, so
  /// that checks made later (scrub's patterns, missing files) name the place. Not a setting.
  std::map<std::string, std::string> locations;
  /// "file:line:col key" for a key that was set, else just the key.
  std::string where(const std::string& key) const {
    auto it = locations.find(key);
    return it == locations.end() || it->second.empty() ? key : it->second + " " + key;
  }
  template <class V> void visit(V& v) {
    v("version", version, {.doc = "schema version of this file", .min = 1, .max = 1, .flag = false});
    v("name", name, {.doc = "name of the pipeline, used in reports", .flag = false});
    v("workdir", workdir, {.doc = "work directory; each stage writes its own sub-directory", .path = true, .flag = false});
    v("stages", stages, {.doc = "stages `slmify run` runs, in pipeline order", .min = 1, .one_of = kStageNames, .flag = false});
    v("threads", threads, {.doc = "worker threads (0: one per core)", .min = 0, .flag = false});
    v("dataset", dataset, {.doc = "how stages write datasets"});
    v("encryption", encryption, {.doc = "encryption at rest of the datasets"});
    v("collect", collect, {.doc = "collect: ingest logged agent calls"});
    v("scrub", scrub, {.doc = "scrub: remove PII and secrets, drop bad calls, de-duplicate"});
    v("cluster", cluster, {.doc = "cluster: discover recurring tasks"});
    v("pretrain", pretrain, {.doc = "pretrain (optional stage): a small model made and pre-trained on the calls"});
    v("select", select, {.doc = "select: choose candidate small models per task"});
    v("finetune", finetune, {.doc = "finetune: LoRA fine-tuning per task"});
    v("eval", eval, {.doc = "eval: measure which tasks the small models can take over"});
    v("retrain", retrain, {.doc = "retrain: periodic retraining and promotion"});
  }
};

/// A value from the command line: "--k 12" is {"cluster.k", "12", "--k"}.
struct ConfigOverride {
  std::string key;     ///< dotted key path, e.g. "cluster.k" or "eval.thresholds.json"
  std::string value;   ///< scalar text; lists as "a,b" or "[a, b]"
  std::string origin;  ///< where it came from, for error messages
  /// For list keys: the items as given (positional inputs), so that no item is split at a comma.
  std::optional<std::vector<std::string>> items = {};
};

/// Defaults < `file` (when given) < overrides. Validates everything and throws one usage Error
/// listing every problem ("pipeline.yaml:14:5 cluster.k: must be >= 1 (got 0)").
PipelineConfig config_load(const std::optional<std::filesystem::path>& file,
                           const std::vector<ConfigOverride>& overrides = {});

/// The effective config as YAML with each key's documentation as a comment; `section` limits it
/// to one top-level key (empty: everything).
std::string config_to_yaml(const PipelineConfig& c, std::string_view section = {});
/// The effective config of one section as JSON (recorded in manifests; digest input).
json config_to_json(const PipelineConfig& c, std::string_view section = {});

/// A settable key of a section, for registering command-line flags.
struct ConfigKey {
  std::string key;       ///< "min_cluster_size"
  std::string flag;      ///< "--min-cluster-size"
  std::string type;      ///< "int", "number", "bool", "string", "list", "int|auto"
  std::string doc;
  std::string default_value;
};
std::vector<ConfigKey> config_section_flags(std::string_view section);

/// Markdown reference of every key (type, default, constraints, doc): the body of docs/pipeline.md.
std::string config_reference_markdown();

/// Levenshtein distance, for "did you mean" suggestions.
size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace slmify
