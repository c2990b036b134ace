// Registry: versions as artifact directories, the serving version by replaying log.jsonl (promote
// pushes onto a stack, rollback pops, prune removes), and the derived `serving` symlink.
#include "retrain/registry.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>

#include "core/artifact.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"

namespace slmify {
namespace fs = std::filesystem;

namespace {

constexpr const char* kLogFile = "log.jsonl";
constexpr const char* kServingLink = "serving";

/// The number of "v0042", or -1 for any other name.
int64_t id_number(const std::string& id) {
  if (id.size() < 2 || id[0] != 'v' || id.size() > 12) return -1;
  int64_t n = 0;
  for (size_t i = 1; i < id.size(); ++i) {
    if (id[i] < '0' || id[i] > '9') return -1;
    n = n * 10 + (id[i] - '0');
  }
  return n;
}

std::string id_of(int64_t n) {
  std::string digits = std::to_string(n);
  return "v" + std::string(digits.size() < 4 ? 4 - digits.size() : 0, '0') + digits;
}

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == 0) return "unknown";
  return buf;
}

json opt_json(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

// A destination inside a version: relative, no "..", not one of the files the registry writes.
void check_dest(const std::string& dest, const fs::path& src) {
  fs::path d(dest);
  bool bad = d.empty() || d.is_absolute() || dest == "manifest.json" || dest == "version.json";
  for (const auto& part : d) bad = bad || part == ".." || part == ".";
  if (bad)
    throw_usage(src.string() + " -> " + dest, "is not a valid place inside a registry version",
                "give a relative path without '..', other than manifest.json and version.json");
}

}  // namespace

Actor actor_resolved(const Actor& by) {
  Actor a = by;
  if (!a.who.empty()) return a;
  for (const char* var : {"SLMIFY_USER", "USER"}) {
    const char* v = std::getenv(var);
    if (v && *v) return a.who = v, a;
  }
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[4096];
  if (::getpwuid_r(::getuid(), &pw, buf, sizeof buf, &found) == 0 && found) a.who = found->pw_name;
  else a.who = "uid " + std::to_string(::getuid());
  return a;
}

struct Registry::State {
  std::vector<std::string> stack;  ///< promote pushes, rollback pops; back() serves
  std::set<std::string> promoted, pruned;
  int64_t max_logged = 0;  ///< the highest version number the log mentions
  json entries = json::array();
};

Registry::Registry(fs::path root) : root_(std::move(root)) {}

Registry::State Registry::replay() const {
  State s;
  const fs::path path = root_ / kLogFile;
  std::error_code ec;
  if (!fs::exists(path, ec)) return s;
  const std::string text = read_file(path);
  size_t line_no = 0;
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(at, end - at);
    at = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json e = json::parse(line, nullptr, false);
    if (e.is_discarded() || !e.is_object() || !e.contains("action") || !e["action"].is_string() ||
        !e.contains("version") || !e["version"].is_string()) {
      // Only a write cut short by a kill leaves such a line; its change never happened.
      static std::mutex mu;
      static std::set<std::string> warned;  // once per line and process, not on every replay
      std::lock_guard<std::mutex> hold(mu);
      if (warned.insert(path.string() + ":" + std::to_string(line_no)).second)
        log_warn(path.string() + ":" + std::to_string(line_no) +
               ": skipped a torn or damaged log line (a change that was interrupted and did not happen)");
      continue;
    }
    const std::string action = e["action"], id = e["version"];
    s.max_logged = std::max(s.max_logged, id_number(id));
    if (action == "promote") {
      s.stack.push_back(id);
      s.promoted.insert(id);
    } else if (action == "rollback") {
      if (!s.stack.empty()) s.stack.pop_back();
      if (s.stack.empty() || s.stack.back() != id) s.stack.push_back(id);  // a log edited by hand
    } else if (action == "prune") {
      s.pruned.insert(id);
      std::erase(s.stack, id);
      s.stack.erase(std::unique(s.stack.begin(), s.stack.end()), s.stack.end());
    }
    s.entries.push_back(std::move(e));
  }
  return s;
}

std::vector<std::string> Registry::existing_ids(const State& s) const {
  std::vector<std::string> ids;
  std::error_code ec;
  for (fs::directory_iterator it(root_ / "versions", ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (id_number(name) >= 0 && it->is_directory() && !s.pruned.count(name)) ids.push_back(name);
  }
  std::sort(ids.begin(), ids.end(), [](const std::string& a, const std::string& b) { return id_number(a) < id_number(b); });
  return ids;
}

std::string Registry::next_id() const {
  State s = replay();
  int64_t top = s.max_logged;
  std::error_code ec;
  for (fs::directory_iterator it(root_ / "versions", ec), end; !ec && it != end; it.increment(ec))
    top = std::max(top, id_number(it->path().filename().string()));
  return id_of(top + 1);
}

std::optional<std::string> Registry::serving() const {
  State s = replay();
  if (s.stack.empty()) return std::nullopt;
  return s.stack.back();
}

void Registry::append_log(const std::string& action, const std::string& version, const std::optional<std::string>& before,
                          const std::optional<std::string>& after, const Actor& by) const {
  Actor a = actor_resolved(by);
  json e = {{"time", utc_now_iso8601()}, {"action", action},  {"version", version}, {"serving_before", opt_json(before)},
            {"serving_after", opt_json(after)}, {"who", a.who}, {"host", host_name()}, {"reason", a.reason}};
  std::string line = e.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) throw_errno("creating directory", root_.string(), ec.value());
  const fs::path path = root_ / kLogFile;
  const bool created = !fs::exists(path, ec);
  int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw_errno("opening", path.string(), errno);
  // A line torn by a kill has no newline: start on a fresh line so this entry stays readable.
  struct stat st {};
  char last = '\n';
  if (::fstat(fd, &st) == 0 && st.st_size > 0 && ::pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
    line.insert(0, "\n");
  for (size_t done = 0; done < line.size();) {
    ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      throw_errno("appending to", path.string(), err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    throw_errno("fsync of", path.string(), err);
  }
  ::close(fd);
  if (created) fsync_path(root_);
}

void Registry::point_serving_link(const std::string& id) const {
  const fs::path link = root_ / kServingLink;
  const fs::path tmp = root_ / (".serving.tmp-" + std::to_string(::getpid()) + "-" + random_suffix());
  const std::string target = "versions/" + id;
  if (::symlink(target.c_str(), tmp.c_str()) != 0) throw_errno("creating symlink", tmp.string(), errno);
  if (::rename(tmp.c_str(), link.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw_io(link.string(), std::string("cannot be replaced by a symlink to ") + target + ": " + std::strerror(err),
             "it must be the symlink slmify maintains; move whatever else is there away");
  }
  fsync_path(root_);
}

std::string Registry::add(const std::vector<std::pair<fs::path, std::string>>& entries, const json& info, const Actor& by) {
  SLMIFY_ASSERT(info.is_object() || info.is_null(), "version info must be a JSON object");
  std::error_code ec;
  for (const auto& [src, dest] : entries) {
    check_dest(dest, src);
    if (!fs::exists(src, ec)) throw_io(src.string(), "no such file or directory", "it was to be registered as " + dest);
  }
  const std::string id = next_id();
  const json config = info.is_null() ? json::object() : info;
  ArtifactWriter w(version_dir(id), "registry", config);
  const fs::path& stage = w.staging_dir();
  for (const auto& [src, dest] : entries) {
    fs::path to = stage / dest;
    if (fs::exists(to, ec)) throw_usage(src.string() + " -> " + dest, "two entries go to the same place", "give each entry its own destination");
    fs::create_directories(to.parent_path(), ec);
    if (ec) throw_errno("creating directory", to.parent_path().string(), ec.value());
    fs::copy(src, to, fs::copy_options::recursive, ec);
    if (ec) throw_errno("copying " + src.string() + " to", to.string(), ec.value());
  }
  {
    FileSink sink(stage / "version.json");
    sink.write(config.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
    sink.finish();
  }
  w.commit();
  const std::optional<std::string> now = serving();
  append_log("register", id, now, now, by);
  if (now) point_serving_link(*now);  // repairs a link left behind by an interrupted change
  log_info("registered " + id + " in " + root_.string());
  return id;
}

void Registry::promote(const std::string& id, const Actor& by) {
  State s = replay();
  std::vector<std::string> ids = existing_ids(s);
  if (std::find(ids.begin(), ids.end(), id) == ids.end())
    throw_usage(id, "is not a version of the registry " + root_.string(),
                ids.empty() ? "the registry is empty; `slmify retrain` registers versions"
                            : "known versions: " + join(ids, ", ") + " (`slmify registry list`)");
  std::optional<std::string> before;
  if (!s.stack.empty()) before = s.stack.back();
  if (before == id) {
    point_serving_link(id);  // repairs a link left behind by an interrupted change
    throw Error(ExitCode::nothing_to_do, id, "is already the serving version", "nothing was changed");
  }
  ArtifactManifest m = artifact_read(version_dir(id));
  std::vector<std::string> problems = artifact_verify(version_dir(id), m);
  if (!problems.empty())
    throw_bad_data(version_dir(id).string(), "is damaged: " + join(problems, "; "),
                   "promote another version; this one no longer has the files it was registered with");
  append_log("promote", id, before, id, by);
  point_serving_link(id);
  log_info("promoted " + id + (before ? " (was " + *before + ")" : std::string()));
}

std::string Registry::rollback(const Actor& by) {
  State s = replay();
  if (s.stack.size() < 2)
    throw Error(ExitCode::nothing_to_do, root_.string(),
                s.stack.empty() ? std::string("no version is serving, so there is nothing to roll back")
                                : "no version served before " + s.stack.back(),
                "to serve another version, promote it: `slmify registry promote PIPELINE VERSION --reason TEXT`");
  const std::string from = s.stack.back(), to = s.stack[s.stack.size() - 2];
  ArtifactManifest m = artifact_read(version_dir(to));
  std::vector<std::string> problems = artifact_verify(version_dir(to), m);
  if (!problems.empty())
    throw_bad_data(version_dir(to).string(), "is damaged, so " + from + " keeps serving: " + join(problems, "; "),
                   "promote a sound version instead (`slmify registry list`)");
  append_log("rollback", to, from, to, by);
  point_serving_link(to);
  log_info("rolled back from " + from + " to " + to);
  return to;
}

json Registry::list() const {
  State s = replay();
  json out = json::array();
  for (const std::string& id : existing_ids(s)) {
    std::string status = "candidate";
    if (!s.stack.empty() && s.stack.back() == id) status = "serving";
    else if (s.stack.size() >= 2 && s.stack[s.stack.size() - 2] == id) status = "previous";
    else if (s.promoted.count(id)) status = "retired";
    json v = {{"id", id}, {"status", status}, {"info", nullptr}};
    try {
      ArtifactManifest m = artifact_read(version_dir(id));
      v["created"] = m.created;
      v["digest"] = m.digest;
      v["info"] = json::parse(read_file(version_dir(id) / "version.json"));
    } catch (const std::exception& e) {
      v["problem"] = e.what();
    }
    out.push_back(std::move(v));
  }
  return out;
}

json Registry::log() const { return replay().entries; }

std::vector<std::string> Registry::prune(int64_t keep, const Actor& by) {
  if (keep < 0) throw_usage("keep", "must be >= 0 (got " + std::to_string(keep) + ")");
  State s = replay();
  std::vector<std::string> ids = existing_ids(s);
  std::set<std::string> kept;
  if (!s.stack.empty()) kept.insert(s.stack.back());
  if (s.stack.size() >= 2) kept.insert(s.stack[s.stack.size() - 2]);
  for (size_t i = 0; i < ids.size() && static_cast<int64_t>(i) < keep; ++i) kept.insert(ids[ids.size() - 1 - i]);
  std::optional<std::string> now;
  if (!s.stack.empty()) now = s.stack.back();
  std::vector<std::string> removed;
  std::error_code ec;
  for (const std::string& id : ids) {
    if (kept.count(id)) continue;
    append_log("prune", id, now, now, by);  // logged first: a kill mid-delete leaves a pruned id
    fs::remove_all(version_dir(id), ec);
    if (ec) log_warn("could not delete all of " + version_dir(id).string() + ": " + ec.message());
    removed.push_back(id);
  }
  for (const std::string& id : s.pruned)  // leftovers of a delete that was interrupted
    if (fs::exists(version_dir(id), ec)) fs::remove_all(version_dir(id), ec);
  if (now) point_serving_link(*now);
  return removed;
}

}  // namespace slmify
