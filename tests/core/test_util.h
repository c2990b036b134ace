// Small helpers shared by the core tests (header-only): temporary directories, running a shell
// command and capturing its output, byte-level file surgery for damage tests, and a valid record.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "core/dataset.h"
#include "core/error.h"

namespace slmify_test {

namespace fs = std::filesystem;
using json = nlohmann::json;

/// A fresh directory under /tmp (mkdtemp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/slmify-test-XXXXXX";
    char* p = ::mkdtemp(tmpl);
    if (!p) throw std::runtime_error("mkdtemp failed");
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

/// A TempDir whose path is a member (`tmp.path`), for tests written that way.
struct TempPath {
  TempDir dir;
  const fs::path& path = dir.path();
};

/// Quotes `s` for /bin/sh.
inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  return q + "'";
}

struct CommandResult {
  int status = -1;  ///< exit status, or -1 when the command did not exit normally
  std::string out;  ///< everything it wrote to stdout
};

/// Runs `cmd` with /bin/sh and captures its stdout (stderr is left alone).
inline CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed: " + cmd);
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.status = (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
  return r;
}

/// The python interpreter to use as an independent JSON reader: the project venv when present.
inline std::string python_exe() {
#ifdef SLMIFY_PYTHON
  std::error_code ec;
  if (std::string(SLMIFY_PYTHON).size() > 0 && fs::exists(SLMIFY_PYTHON, ec)) return SLMIFY_PYTHON;
#endif
  return "python3";
}

/// sha256 of a file as printed by the coreutils `sha256sum` command (an independent implementation).
inline std::string sha256sum_cmd(const fs::path& p) {
  CommandResult r = run_command("sha256sum " + shell_quote(p.string()));
  if (r.status != 0 || r.out.size() < 64) throw std::runtime_error("sha256sum failed on " + p.string());
  return r.out.substr(0, 64);
}

inline std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Writes `data` to `p`, creating its parent directories.
inline void write_bytes(const fs::path& p, const std::string& data) {
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot create " + p.string());
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

/// Inverts every bit of the byte at `offset`.
inline void flip_byte(const fs::path& p, size_t offset) {
  std::string b = read_bytes(p);
  if (offset >= b.size()) throw std::runtime_error("flip_byte: offset past the end of " + p.string());
  b[offset] = static_cast<char>(~static_cast<unsigned char>(b[offset]));
  write_bytes(p, b);
}

/// Runs `f` and returns the slmify::Error it throws; fails (throws std::runtime_error) when it
/// returns normally. Other exception types propagate, so the test reports them.
template <class F>
slmify::Error expect_error(F&& f) {
  try {
    f();
  } catch (const slmify::Error& e) {
    return e;
  }
  throw std::runtime_error("expected a slmify::Error, but nothing was thrown");
}

/// Runs tests/reference/<script> OUTDIR once per build and script version and returns OUTDIR
/// (under the build tree, keyed by the script's sha256), so the many test processes ctest starts
/// share one run of a slow Python reference. Concurrent callers race safely: the output appears
/// by an atomic rename.
inline fs::path python_reference_dir(const std::string& script) {
  fs::path src = fs::path(SLMIFY_SOURCE_DIR) / "tests" / "reference" / script;
  std::string digest = sha256sum_cmd(src).substr(0, 16);
  fs::path cache = fs::path(SLMIFY_BINARY).parent_path() / "test-cache";
  fs::path out = cache / (fs::path(script).stem().string() + "-" + digest);
  if (fs::exists(out / ".complete")) return out;
  fs::create_directories(cache);
  fs::path tmp = cache / (".tmp-" + std::to_string(::getpid()) + "-" + digest);
  fs::remove_all(tmp);
  CommandResult r = run_command(shell_quote(python_exe()) + " " + shell_quote(src.string()) + " " + shell_quote(tmp.string()) + " >&2");
  if (r.status != 0) throw std::runtime_error("reference script failed: " + src.string());
  write_bytes(tmp / ".complete", "");
  std::error_code ec;
  fs::rename(tmp, out, ec);  // another process may have won the race: then its copy is used
  fs::remove_all(tmp, ec);
  return out;
}

/// A small valid record (schema v1) numbered `i`.
inline json make_record(int i, const std::string& text = "") {
  std::string n = std::to_string(i);
  return json{
      {"id", "rec-" + n},
      {"ts", "2026-11-28T10:00:00.123Z"},
      {"source", {{"format", "openai-chat"}, {"file", "calls.jsonl"}, {"line", i + 1}, {"agent", "planner"}}},
      {"hci", false},
      {"status", "ok"},
      {"request",
       {{"model", "gpt-4o"},
        {"messages", json::array({{{"role", "system"}, {"content", "You are terse."}},
                                  {{"role", "user"}, {"content", text.empty() ? "question " + n : text}}})}}},
      {"response", {{"content", "answer " + n}, {"finish_reason", "stop"}}},
  };
}

/// Writes `calls` (records) as a dataset at `dir`; every record must pass the schema check.
inline void write_dataset(const fs::path& dir, const std::vector<json>& calls) {
  slmify::WriterOptions wo;
  wo.stage = "import";
  slmify::DatasetWriter w(dir, wo);
  for (const json& c : calls)
    if (!w.write(c)) throw std::runtime_error("record quarantined: " + c.dump().substr(0, 200));
  w.commit();
}

/// Every record of the dataset at `dir`, in order.
inline std::vector<json> read_all(const fs::path& dir) {
  std::vector<json> out;
  slmify::DatasetReader r(dir);
  json rec;
  while (r.next(rec)) out.push_back(rec);
  return out;
}

}  // namespace slmify_test
