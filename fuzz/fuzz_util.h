// What the fuzz targets share: a private scratch directory per process, bytes written to a file
// in it, and quiet logs. A target treats slmify::Error (a clear message and an exit code) as the
// right answer to bad input; anything else escaping, a crash, a leak or a sanitizer report is a bug.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/log.h"

namespace slmify_fuzz {

inline const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    slmify::log_set_level(slmify::LogLevel::quiet);
    auto d = std::filesystem::temp_directory_path() / ("slmify-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline std::filesystem::path write(const std::string& name, const uint8_t* data, size_t size) {
  std::filesystem::path p = scratch() / name;
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return p;
}

}  // namespace slmify_fuzz
