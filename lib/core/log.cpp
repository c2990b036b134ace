// Logging and progress on stderr; see log.h.
#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace slmify {

static std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
static std::mutex g_mutex;

void log_set_level(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load()); }

bool log_parse_level(std::string_view s, LogLevel& out) {
  static const std::pair<const char*, LogLevel> names[] = {{"debug", LogLevel::debug}, {"info", LogLevel::info},
                                                           {"warn", LogLevel::warn},   {"error", LogLevel::error},
                                                           {"quiet", LogLevel::quiet}};
  for (auto& [n, l] : names)
    if (s == n) {
      out = l;
      return true;
    }
  return false;
}

static void emit(LogLevel level, const char* tag, std::string_view msg) {
  if (static_cast<int>(level) < g_level.load()) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fprintf(stderr, "%s%.*s\n", tag, static_cast<int>(msg.size()), msg.data());
}

void log_debug(std::string_view msg) { emit(LogLevel::debug, "debug: ", msg); }
void log_info(std::string_view msg) { emit(LogLevel::info, "", msg); }
void log_warn(std::string_view msg) { emit(LogLevel::warn, "warning: ", msg); }
void log_error(std::string_view msg) { emit(LogLevel::error, "error: ", msg); }

std::string format_duration(double s) {
  char buf[32];
  if (!std::isfinite(s) || s < 0) return "?";
  long t = std::lround(s);
  if (t < 60) std::snprintf(buf, sizeof buf, "%lds", t);
  else if (t < 3600) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
  return buf;
}

std::string format_count(double n) {
  char buf[32];
  if (n < 1000) std::snprintf(buf, sizeof buf, "%.0f", n);
  else if (n < 1e6) std::snprintf(buf, sizeof buf, "%.1fk", n / 1e3);
  else if (n < 1e9) std::snprintf(buf, sizeof buf, "%.2fM", n / 1e6);
  else std::snprintf(buf, sizeof buf, "%.2fG", n / 1e9);
  return buf;
}

double Progress::plain_interval_seconds() {
  if (const char* e = std::getenv("SLMIFY_PROGRESS_SECONDS")) {
    double v = std::atof(e);
    if (v > 0) return v;
  }
  return 10.0;
}

Progress::Progress(std::string label, uint64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(::isatty(STDERR_FILENO) == 1) {
  start_ = last_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
  if (!finished_ && tty_ && count_ > 0 && log_level() <= LogLevel::info) std::fputc('\n', stderr);
}

void Progress::add(uint64_t n) {
  count_ += n;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_).count();
  if (since >= (tty_ ? 0.1 : plain_interval_seconds())) {
    last_ = now;
    draw(false);
  }
}

void Progress::done() {
  if (finished_) return;
  finished_ = true;
  draw(true);
}

void Progress::draw(bool final) {
  if (log_level() > LogLevel::info) return;
  double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = el > 0 ? count_ / el : 0;
  std::string line = label_ + ": " + format_count(double(count_));
  if (total_ > 0) line += "/" + format_count(double(total_));
  line += " " + unit_ + ", " + format_count(rate) + "/s";
  if (final) line += ", " + format_duration(el);
  else if (total_ > 0 && rate > 0 && count_ <= total_) line += ", ETA " + format_duration((total_ - count_) / rate);
  std::lock_guard<std::mutex> lock(g_mutex);
  if (tty_) {
    std::string bar;
    if (total_ > 0) {
      int w = 24, filled = int(w * std::min(1.0, double(count_) / double(total_)));
      bar = "[" + std::string(filled, '#') + std::string(w - filled, '.') + "] ";
    }
    std::fprintf(stderr, "\r\033[K%s%s%s", bar.c_str(), line.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace slmify
