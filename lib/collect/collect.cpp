// The collect stage: expands the inputs, reads files in parallel (two workers, output kept in
// input order), recognises each file's format, converts every call with the importers, applies
// the human-facing rules, drops repeated ids, quarantines what it cannot read, and writes one
// dataset. Behaviour: docs/collect.md. Tested by tests/collect/test_collect.cpp.
#include "collect/collect.h"

#include <array>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "collect/importers.h"
#include "collect/input.h"
#include "collect/state.h"
#include "core/dataset.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"

namespace slmify {
namespace fs = std::filesystem;

namespace {

// What a worker hands to the writer, in input order.
struct Event {
  enum Kind { record, drop, quarantine } kind;
  json rec;             // record: kept only when it failed the schema check (to quarantine it)
  std::string reason;   // drop / quarantine reason
  std::string raw;      // quarantine: the input text as read
  SourceLoc where;
  PreparedRecord prepared = {};  // record: id and serialised line, made on the worker thread
};

// A bounded queue of event batches for one file: the worker blocks when the writer is behind.
class BatchQueue {
 public:
  struct Cancelled {};  // thrown to a worker pushing into a cancelled queue: stop reading
  void push(std::vector<Event>&& batch) {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] { return q_.size() < 8 || cancelled_; });
    if (cancelled_) throw Cancelled{};
    q_.push_back(std::move(batch));
    cv_.notify_all();
  }
  // The writer gave up (an error): wake and stop the worker, drop what was queued.
  void cancel() {
    std::lock_guard<std::mutex> lock(m_);
    cancelled_ = closed_ = true;
    q_.clear();
    cv_.notify_all();
  }
  void close(std::exception_ptr error = nullptr) {
    std::lock_guard<std::mutex> lock(m_);
    closed_ = true;
    error_ = error;
    cv_.notify_all();
  }
  // False when the queue is closed and empty; rethrows a worker's error.
  bool pop(std::vector<Event>& batch) {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) {
      if (error_) std::rethrow_exception(error_);
      return false;
    }
    batch = std::move(q_.front());
    q_.pop_front();
    cv_.notify_all();
    return true;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::vector<Event>> q_;
  bool closed_ = false, cancelled_ = false;
  std::exception_ptr error_;
};

struct FileJob {
  InputFile file;
  BatchQueue queue;
  // Filled by the worker, read by the writer after the queue is closed.
  std::map<std::string, uint64_t> formats;       // records per input format
  std::map<std::string, uint64_t> dropped_parts;
  std::map<std::string, uint64_t> otel_other_spans;
  std::optional<FileState> state_after;          // for --state
  bool skipped_unchanged = false;
};

bool truthy(const json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0;
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s == "true" || s == "yes" || s == "1" || s == "on";
  }
  return false;
}

// Whether a call talks directly with a person (docs/collect.md, "Human-facing calls").
bool is_hci(const json& rec, const std::vector<HciRule>& rules) {
  const json& meta = rec.value("meta", json::object());
  const json& src = rec["source"];
  std::string agent = src.contains("agent") && src["agent"].is_string() ? src["agent"].get<std::string>() : "";
  for (const char* k : {"hci", "human_facing"})
    if (meta.contains(k) && truthy(meta[k])) return true;
  for (const HciRule& r : rules) {
    bool ok = !r.agent.empty() || !r.metadata_key.empty();
    if (!r.agent.empty()) ok = ok && agent == r.agent;
    if (!r.metadata_key.empty()) {
      auto it = meta.find(r.metadata_key);
      if (it == meta.end()) ok = false;
      else if (r.metadata_value.empty()) ok = ok && truthy(*it);
      else ok = ok && (it->is_string() ? it->get<std::string>() == r.metadata_value : it->dump() == r.metadata_value);
    }
    if (ok) return true;
  }
  return false;
}

struct Settings {
  const PipelineConfig* config;
  std::optional<InputFormat> forced;
  uint64_t max_line;
  size_t max_depth;
  bool incremental;
  const CollectState* state;
};

// Reads one file and pushes its events. Runs on a worker thread.
class FileReader {
 public:
  FileReader(const Settings& s, FileJob& job) : s_(s), job_(job) {}

  void run() {
    const std::string& path = job_.file.path;
    bool is_stdin = path == "-";
    // stdin, a pipe (<(cmd)) or a FIFO: read once as it comes, never reopened, no resume state.
    bool is_stream = is_stdin || !fs::is_regular_file(path);
    uint64_t start_offset = 0, start_line = 0;
    std::string key;
    if (s_.incremental && is_stream && !is_stdin)
      log_info(path + " is a pipe or other stream, not a file: it is read whole, and collect.state does not apply to it");
    if (s_.incremental && !is_stream) {
      key = fs::weakly_canonical(path).string();
      FileState now = file_identity(path);
      auto it = s_.state->files.find(key);
      if (it != s_.state->files.end() && file_resumable(path, it->second, now)) {
        start_offset = it->second.offset;
        start_line = it->second.lines;
        if (now.size == it->second.size) job_.skipped_unchanged = true;
      }
      job_.state_after = now;
    }
    if (job_.skipped_unchanged) {
      job_.state_after->offset = start_offset;
      job_.state_after->lines = start_line;
      return flush();
    }
    LineReader reader(job_.file, s_.max_line, start_offset, start_line);
    reader.set_hold_partial(s_.incremental && !is_stream);
    std::string line;
    bool first = true;
    for (;;) {
      LineReader::Status st = reader.next(line);
      if (st == LineReader::Status::end) break;
      SourceLoc where{is_stdin ? "<stdin>" : path, reader.line_number()};
      if (st == LineReader::Status::oversized) {
        quarantine("line too long", "longer than collect.max_line_mb (" + std::to_string(s_.max_line >> 20) + " MiB)", where, line);
        continue;
      }
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines are not calls
      if (first) {
        first = false;
        // A first line that opens an array or object and leaves it open is the start of one JSON
        // document spread over many lines (a pretty-printed OTLP export, or an array of calls).
        // If the whole does not parse, read_document goes on line by line from the first line.
        if (start_offset == 0 && json_left_open(line)) {
          if (read_document(reader, line, where)) break;
          continue;
        }
        // JSON Lines of OTLP documents: spans refer to parents in other lines (parents are
        // usually exported after their children), so map the whole file's spans first.
        json probe;
        std::string err;
        if (!is_stream && json_parse_guarded(line, probe, err, s_.max_depth) == JsonFault::none && probe.is_object() &&
            probe.contains("resourceSpans"))
          map_otel_parents(start_offset, start_line);
      }
      handle_line(line, where, reader.last_line_unterminated());
    }
    if (!reader.damage().empty())  // the lines before the damage are in; the rest cannot be read
      quarantine("damaged file", reader.damage() + "; the lines before it were read", SourceLoc{where_file(), reader.line_number() + 1}, "");
    if (job_.state_after) {
      job_.state_after->offset = reader.offset();
      job_.state_after->lines = reader.line_number();
    }
    flush();
  }

 private:
  std::string where_file() const { return job_.file.path == "-" ? "<stdin>" : job_.file.path; }

  void handle_line(const std::string& line, const SourceLoc& where, bool unterminated) {
    if (!utf8_valid(line)) return quarantine("invalid UTF-8", "the line is not valid UTF-8 text", where, line);
    json value;
    std::string err;
    switch (json_parse_guarded(line, value, err, s_.max_depth)) {
      case JsonFault::none: break;
      case JsonFault::too_deep: return quarantine("too deep", err + " (collect.max_depth)", where, line);
      case JsonFault::invalid:
        if (unterminated) return quarantine("truncated line", "the file ends in the middle of this JSON line", where, line);
        return quarantine("invalid JSON", err, where, line);
    }
    handle_value(value, where, line, true);
  }

  // One parsed value: a call, an OTLP document, or (at the top of a line or document) an array
  // of those, whose elements keep the array's location.
  void handle_value(const json& value, const SourceLoc& where, const std::string& raw, bool top) {
    if (value.is_array() && top) {
      for (const json& v : value) handle_value(v, where, v.dump(), false);
      return;
    }
    InputFormat fmt;
    try {
      if (s_.forced) fmt = *s_.forced;
      else if (!input_format_detect(value, fmt))
        return quarantine("unknown shape", "a JSON value that is none of the formats collect reads (docs/collect.md)", where, raw);
    } catch (const json::exception& e) {  // a field of the wrong type where detection looks
      return quarantine("unknown shape", std::string("a value of an unexpected type: ") + e.what(), where, raw);
    }
    if (fmt == InputFormat::otel) return handle_otel(value, where, raw);
    try {
      Imported im = fmt == InputFormat::openai_chat ? import_openai_chat(value)
                  : fmt == InputFormat::openai_ft   ? import_openai_ft(value)
                                                    : import_anthropic(value);
      emit(std::move(im), where, fmt);
    } catch (const ImportError& e) {
      quarantine("cannot convert", std::string(input_format_name(fmt)) + ": " + e.what(), where, raw);
    }
  }

  void map_otel_parents(uint64_t start_offset, uint64_t start_line) {
    LineReader r(job_.file, s_.max_line, start_offset, start_line);
    r.set_hold_partial(s_.incremental);
    std::string line;
    for (LineReader::Status st; (st = r.next(line)) != LineReader::Status::end;) {
      if (st != LineReader::Status::line) continue;
      json doc;
      std::string err;  // bad lines and documents are reported by the main pass
      if (json_parse_guarded(line, doc, err, s_.max_depth) != JsonFault::none || !doc.is_object() || !doc.contains("resourceSpans"))
        continue;
      try {
        otel_collect_parents(doc, file_parents_);
      } catch (const std::exception&) {  // ImportError or a value of the wrong type: the main pass says which
      }
    }
    have_file_parents_ = true;
  }

  void handle_otel(const json& doc, const SourceLoc& where, const std::string& raw) {
    std::map<std::string, std::pair<std::string, std::string>> doc_parents;
    const auto& parents = have_file_parents_ ? file_parents_ : doc_parents;
    try {
      if (!have_file_parents_) otel_collect_parents(doc, doc_parents);
      import_otel(
          doc, parents, [&](Imported&& im) { emit(std::move(im), where, InputFormat::otel); },
          [&](const std::string& reason, const std::string& span) {
            quarantine("cannot convert", "otel: " + reason + " (" + span + ")", where, raw.size() <= 65536 ? raw : raw.substr(0, 65536));
          },
          job_.otel_other_spans);
    } catch (const ImportError& e) {
      quarantine("cannot convert", std::string("otel: ") + e.what(), where, raw);
    } catch (const json::exception& e) {
      quarantine("cannot convert", std::string("otel: a value of an unexpected type: ") + e.what(), where, raw);
    }
  }

  // The rest of a file that holds one JSON document over many lines. True when it was read as
  // one document (or quarantined as one); false when the lines read so far are not a document
  // after all: they have then been handled one by one, and the caller goes on line by line.
  bool read_document(LineReader& reader, const std::string& first_line, const SourceLoc& first) {
    std::vector<std::pair<uint64_t, std::string>> lines{{first.line, first_line}};
    uint64_t size = first_line.size();
    bool unterminated = reader.last_line_unterminated();
    auto as_lines = [&] {  // not one document: every line is judged alone, nothing is lost
      for (auto& [n, l] : lines)
        if (l.find_first_not_of(" \t\r") != std::string::npos) handle_line(l, SourceLoc{first.file, n}, unterminated && n == lines.back().first);
      return false;
    };
    std::string line;
    for (;;) {
      LineReader::Status st = reader.next(line);
      if (st == LineReader::Status::end) break;
      unterminated = reader.last_line_unterminated();
      if (st == LineReader::Status::oversized || size + line.size() + 1 > s_.max_line) {
        // Too long to hold: judge what was read line by line; the caller reads on that way.
        as_lines();
        if (st == LineReader::Status::oversized)
          quarantine("line too long", "longer than collect.max_line_mb (" + std::to_string(s_.max_line >> 20) + " MiB)",
                     SourceLoc{first.file, reader.line_number()}, line);
        else
          handle_line(line, SourceLoc{first.file, reader.line_number()}, unterminated);
        return false;
      }
      size += line.size() + 1;
      lines.emplace_back(reader.line_number(), std::move(line));
      line.clear();
    }
    std::string text;
    text.reserve(size);
    for (auto& [n, l] : lines) (text += l) += '\n';
    json doc;
    std::string err;
    JsonFault fault = utf8_valid(text) ? json_parse_guarded(text, doc, err, s_.max_depth) : JsonFault::invalid;
    if (fault == JsonFault::invalid) return as_lines();  // the reader is at the end: nothing else to read
    if (fault == JsonFault::too_deep) {
      quarantine("too deep", err + " (collect.max_depth)", first, text.substr(0, 1024));
      return true;
    }
    if (doc.is_array()) {  // an array of calls: element i is reported as "line" i+1 of the file
      for (size_t i = 0; i < doc.size(); ++i) handle_value(doc[i], SourceLoc{first.file, i + 1}, doc[i].dump(), false);
      return true;
    }
    // Line numbers of the parents map are per document; the whole file is one here.
    handle_value(doc, first, text.size() <= 65536 ? text : text.substr(0, 65536), false);
    return true;
  }

  void emit(Imported&& im, const SourceLoc& where, InputFormat fmt) {
    json& rec = im.record;
    rec["source"]["file"] = where.file;
    rec["source"]["line"] = where.line;
    bool hci = is_hci(rec, s_.config->collect.hci_rules);
    rec["hci"] = hci;
    for (auto& [k, n] : im.dropped_parts) job_.dropped_parts[k] += n;
    if (hci && !s_.config->collect.include_hci) return push({Event::drop, json(), "hci", "", where});
    ++job_.formats[input_format_name(fmt)];
    // Checking, hashing and serialising happen here, in parallel; the writer only compresses.
    PreparedRecord prepared = record_prepare(rec);
    if (prepared.problem.empty()) rec = json();
    push({Event::record, std::move(rec), "", "", where, std::move(prepared)});
  }

  void quarantine(const std::string& kind, const std::string& detail, const SourceLoc& where, const std::string& raw) {
    if (s_.config->collect.strict)
      throw_bad_data(where.file + ":" + std::to_string(where.line), kind + ": " + detail,
                     "fix or remove the input, or run without --strict to quarantine it and go on");
    push({Event::quarantine, json(), kind + ": " + detail, raw, where});
  }

  void push(Event&& e) {
    batch_.push_back(std::move(e));
    if (batch_.size() >= 512) flush();
  }
  void flush() {
    if (!batch_.empty()) job_.queue.push(std::move(batch_));
    batch_.clear();
  }

  const Settings& s_;
  FileJob& job_;
  std::vector<Event> batch_;
  std::map<std::string, std::pair<std::string, std::string>> file_parents_;  // span id -> (parent, agent)
  bool have_file_parents_ = false;
};

// 128-bit ids, hashed by their first 8 bytes: 16 bytes of memory per distinct call.
struct Id128 {
  uint64_t hi, lo;
  bool operator==(const Id128& o) const { return hi == o.hi && lo == o.lo; }
};
struct Id128Hash {
  size_t operator()(const Id128& x) const { return static_cast<size_t>(x.hi); }
};
Id128 parse_id(const std::string& hex) {
  return Id128{std::stoull(hex.substr(0, 16), nullptr, 16), std::stoull(hex.substr(16, 16), nullptr, 16)};
}

std::string reason_kind(const std::string& reason) { return reason.substr(0, reason.find(':')); }

}  // namespace

json collect_run(const PipelineConfig& config, const StageIO& io, const Context&) {
  const CollectConfig& cc = config.collect;
  if (io.output.empty()) throw_usage("slmify collect", "no output directory", "give one with -o DIR");
  std::vector<std::string> inputs = io.inputs.empty() ? cc.inputs : io.inputs;
  if (inputs.empty())
    throw_usage("slmify collect", "no inputs", "name log files or directories, or set collect.inputs in the pipeline file");
  Settings s{&config, std::nullopt, static_cast<uint64_t>(cc.max_line_mb) << 20, static_cast<size_t>(cc.max_depth),
             !cc.state.empty(), nullptr};
  if (cc.format != "auto") {
    InputFormat f;
    input_format_parse(cc.format, f);
    s.forced = f;
  }
  CollectState state;
  if (s.incremental) state = collect_state_read(cc.state);
  s.state = &state;

  std::vector<InputFile> files = input_expand(inputs);
  std::vector<std::unique_ptr<FileJob>> jobs;
  for (const InputFile& f : files) {
    jobs.push_back(std::make_unique<FileJob>());
    jobs.back()->file = f;
  }

  WriterOptions wo;
  stage_writer_options(config, "collect", "collect", wo);
  wo.file_mode = 0600;  // logged calls are private data: owner-only files
  for (const InputFile& f : files)
    wo.inputs.push_back({"file", f.path, file_input_digest(f.path)});
  DatasetWriter writer(io.output, wo);

  // Two workers read files in order of the list; this thread writes their events in that order.
  unsigned n_workers = std::min<unsigned>(std::max(1u, std::thread::hardware_concurrency()), 2);
  if (config.threads > 0) n_workers = static_cast<unsigned>(config.threads);
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  auto worker = [&]() {
    for (size_t i; !stop && (i = next++) < jobs.size();) {
      FileJob& job = *jobs[i];
      try {
        FileReader(s, job).run();
        job.queue.close();
      } catch (...) {
        job.queue.close(std::current_exception());
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < n_workers; ++t) threads.emplace_back(worker);
  struct Joiner {
    std::vector<std::thread>& ts;
    std::atomic<bool>& stop;
    std::vector<std::unique_ptr<FileJob>>& jobs;
    ~Joiner() {  // on success every queue is drained already; on an error this stops the workers
      stop = true;
      for (auto& j : jobs) j->queue.cancel();
      for (auto& t : ts) t.join();
    }
  } joiner{threads, stop, jobs};

  std::unordered_set<Id128, Id128Hash> seen;
  std::map<std::string, uint64_t> formats, dropped_parts, otel_other, quarantine_kinds;
  uint64_t files_read = 0, files_unchanged = 0;
  Progress progress("collect", 0, "calls");
  std::vector<Event> batch;
  for (auto& job : jobs) {
    while (job->queue.pop(batch)) {
      for (Event& e : batch) {
        progress.add();
        if (e.kind == Event::drop) {
          writer.drop(e.reason);
        } else if (e.kind == Event::quarantine) {
          ++quarantine_kinds[reason_kind(e.reason)];
          writer.quarantine(e.reason, e.where, e.raw);
        } else if (!seen.insert(parse_id(e.prepared.id)).second) {
          writer.drop("duplicate");
        } else if (!writer.write(e.prepared, e.rec, e.where)) {
          ++quarantine_kinds["invalid record"];  // the writer quarantined it: failed the schema check
        }
      }
    }
    for (auto& [k, n] : job->formats) formats[k] += n;
    for (auto& [k, n] : job->dropped_parts) dropped_parts[k] += n;
    for (auto& [k, n] : job->otel_other_spans) otel_other[k] += n;
    ++(job->skipped_unchanged ? files_unchanged : files_read);
  }
  progress.done();

  writer.stats() = {{"files", files.size()},
                    {"files_unchanged", files_unchanged},
                    {"records_by_format", formats},
                    {"quarantined_by_reason", quarantine_kinds},
                    {"dropped_content_parts", dropped_parts},
                    {"otel_other_spans", otel_other},
                    {"incremental", s.incremental}};
  Manifest m = writer.commit();
  if (s.incremental) {  // only after the dataset is safely committed
    for (auto& job : jobs)
      if (job->state_after) state.files[fs::weakly_canonical(job->file.path).string()] = *job->state_after;
    collect_state_write(cc.state, state);
  }
  const Accounting& a = m.accounting;
  json summary = {{"stage", "collect"},
                  {"output", io.output},
                  {"files", files.size()},
                  {"in", a.in},
                  {"out", a.out},
                  {"dropped", a.dropped},
                  {"quarantined", a.quarantined},
                  {"records_by_format", formats},
                  {"quarantined_by_reason", quarantine_kinds},
                  {"dropped_content_parts", dropped_parts},
                  {"digest", m.digest}};
  std::string fm;
  for (auto& [k, n] : formats) fm += (fm.empty() ? "" : ", ") + k + " " + std::to_string(n);
  log_info("collected " + std::to_string(a.out) + " calls from " + std::to_string(files.size()) + " file(s)" +
           (fm.empty() ? "" : " (" + fm + ")") + "; dropped " + json(a.dropped).dump() + "; quarantined " +
           std::to_string(a.quarantined) + (quarantine_kinds.empty() ? "" : " " + json(quarantine_kinds).dump()));
  // Nothing new at all is worth an exit code of its own (cron); new lines that were all
  // quarantined are not "nothing": the summary says what happened to them.
  if (a.in == 0 && s.incremental) throw Error(ExitCode::nothing_to_do, io.output, "no new calls since the last run", "");
  return summary;
}

}  // namespace slmify
