// Dataset writer/reader throughput against a baseline measured in the same run: the same records
// serialised and zstd-compressed (or decompressed and parsed) with no schema check, checksum,
// sharding or fsync. The ratio is what the dataset layer's guarantees cost. Run by scripts/bench.
#include <zstd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/dataset.h"
#include "core/fsutil.h"
#include "core/zstd_lines.h"

using namespace slmify;
namespace fs = std::filesystem;
using clk = std::chrono::steady_clock;

static json make_record(size_t i) {
  std::string user = "Customer " + std::to_string(i) + " writes: my order " + std::to_string(100000 + i * 7) +
                     " arrived damaged, the box was open and the kettle lid is cracked. Please advise on a refund "
                     "or a replacement, whichever is faster. I attach photos of the parcel and the receipt.";
  json rec = {{"id", ""},
              {"ts", "2026-11-28T10:00:00.000Z"},
              {"source", {{"format", "openai-chat"}, {"file", "agent.jsonl"}, {"line", i + 1}, {"agent", "router"}}},
              {"hci", false},
              {"status", "ok"},
              {"request",
               {{"model", "gpt-4o-mini"},
                {"messages",
                 {{{"role", "system"}, {"content", "You route support tickets. Call route_ticket with queue and priority."}},
                  {{"role", "user"}, {"content", user}}}},
                {"tools", {{{"type", "function"}, {"function", {{"name", "route_ticket"}, {"parameters", {{"type", "object"}}}}}}}}}},
              {"response",
               {{"content", nullptr},
                {"tool_calls", {{{"id", "call_" + std::to_string(i)}, {"type", "function"},
                                 {"function", {{"name", "route_ticket"}, {"arguments", "{\"queue\":\"shipping\",\"priority\":\"high\"}"}}}}}},
                {"finish_reason", "tool_calls"}}},
              {"usage", {{"prompt_tokens", 212}, {"completion_tokens", 24}}},
              {"latency_ms", 640},
              {"cost_usd", 0.00004}};
  rec["id"] = record_content_id(rec);
  return rec;
}

static double seconds(clk::time_point a) { return std::chrono::duration<double>(clk::now() - a).count(); }

int main(int argc, char** argv) {
  size_t n = argc > 1 ? std::stoul(argv[1]) : 200000;
  fs::path dir = fs::temp_directory_path() / ("slmify-bench-" + random_suffix());
  fs::create_directories(dir);
  std::vector<json> recs;
  recs.reserve(n);
  for (size_t i = 0; i < n; ++i) recs.push_back(make_record(i));
  uint64_t raw = 0;
  for (const json& r : recs) raw += r.dump().size() + 1;
  double mb = raw / 1e6;
  std::printf("records: %zu, %.1f MB of JSON Lines\n", n, mb);

  // Baseline write: dump + streaming zstd into one file, nothing else.
  auto t = clk::now();
  {
    ZSTD_CCtx* c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 3);
    FILE* f = std::fopen((dir / "baseline.zst").c_str(), "wb");
    std::vector<char> out(ZSTD_CStreamOutSize());
    std::string buf;
    auto push = [&](ZSTD_EndDirective mode) {
      ZSTD_inBuffer in{buf.data(), buf.size(), 0};
      size_t rem;
      do {
        ZSTD_outBuffer ob{out.data(), out.size(), 0};
        rem = ZSTD_compressStream2(c, &ob, &in, mode);
        std::fwrite(out.data(), 1, ob.pos, f);
      } while (mode == ZSTD_e_end ? rem != 0 : in.pos < in.size);
      buf.clear();
    };
    for (const json& r : recs) {
      buf += r.dump();
      buf += '\n';
      if (buf.size() > (1 << 17)) push(ZSTD_e_continue);
    }
    push(ZSTD_e_end);
    std::fclose(f);
    ZSTD_freeCCtx(c);
  }
  double base_w = seconds(t);

  t = clk::now();
  {
    WriterOptions o;
    o.stage = "bench";
    DatasetWriter w(dir / "ds", o);
    for (const json& r : recs) w.write(r);
    w.commit();
  }
  double ds_w = seconds(t);

  // Baseline read: decompress and parse every line.
  t = clk::now();
  size_t parsed = 0;
  {
    ZstdLineReader r(dir / "baseline.zst");
    std::string line;
    while (r.next(line)) parsed += json::parse(line).size();
  }
  double base_r = seconds(t);

  t = clk::now();
  size_t read = 0;
  {
    DatasetReader r(dir / "ds");
    json rec;
    while (r.next(rec)) ++read;
  }
  double ds_r = seconds(t);
  fs::remove_all(dir);

  std::printf("%-46s %8.1f MB/s\n", "write baseline (dump + zstd, one file)", mb / base_w);
  std::printf("%-46s %8.1f MB/s  %.2fx of baseline\n", "DatasetWriter (schema, sha256, shards, fsync)", mb / ds_w, base_w / ds_w);
  std::printf("%-46s %8.1f MB/s\n", "read baseline (unzstd + parse)", mb / base_r);
  std::printf("%-46s %8.1f MB/s  %.2fx of baseline\n", "DatasetReader (schema, sha256, counts)", mb / ds_r, base_r / ds_r);
  return read == n && parsed > 0 ? 0 : 1;
}
