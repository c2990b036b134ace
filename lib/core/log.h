// Human output on stderr: levelled log lines and a progress reporter that draws a bar with rate
// and ETA on a terminal and prints plain periodic lines otherwise (cron, CI, pipes).
// stdout is reserved for a command's result (--json, head, export to -).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace slmify {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3, quiet = 4 };

void log_set_level(LogLevel level);
LogLevel log_level();
/// Parses debug|info|warn|error|quiet; returns false for anything else.
bool log_parse_level(std::string_view s, LogLevel& out);

void log_debug(std::string_view msg);
void log_info(std::string_view msg);
void log_warn(std::string_view msg);
void log_error(std::string_view msg);

/// Reports progress of one phase. `total` may be 0 when unknown (then no ETA is shown).
class Progress {
 public:
  Progress(std::string label, uint64_t total, std::string unit = "records");
  ~Progress();
  void add(uint64_t n = 1);
  void set_total(uint64_t total) { total_ = total; }
  /// Prints the final line (count, elapsed time, rate).
  void done();

  /// Seconds between plain lines when stderr is not a terminal (default 10, env SLMIFY_PROGRESS_SECONDS).
  static double plain_interval_seconds();

 private:
  void draw(bool final);
  std::string label_, unit_;
  uint64_t total_, count_ = 0;
  bool tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

std::string format_duration(double seconds);  ///< "42s", "3m05s", "2h01m"
std::string format_count(double n);           ///< "950", "12.3k", "4.56M"

}  // namespace slmify
