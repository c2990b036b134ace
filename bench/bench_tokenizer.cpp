// Byte-level BPE encoding throughput against HF tokenizers (Rust, through Python) on the same text
// in the same run: Python trains a Qwen2-shaped tokenizer (NFC, single-digit regex, 32k vocab) on a
// few MB of the Python standard library and slmify's docs, times its own encode, and writes the ids;
// then slmify's Tokenizer encodes the same text, one core, and must produce the same ids.
// Usage: bench_tokenizer [MB=4] [VOCAB=32000]. Needs SLMIFY_PYTHON with `tokenizers`.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fsutil.h"
#include "model/tokenizer.h"

using namespace slmify;
namespace fs = std::filesystem;
using clk = std::chrono::steady_clock;

static double seconds(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

static const char* const k_python = R"PY(
import glob, json, os, struct, sys, sysconfig, time
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
out, mb, vocab, src = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
files = sorted(glob.glob(os.path.join(src, "docs", "*.md"))) + sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py")))
parts, size = [], 0
for f in files:
    with open(f, encoding="utf-8", errors="replace") as fh:
        t = fh.read()
    parts.append(t); size += len(t.encode())
    if size >= mb * 1e6: break
text = "".join(parts)
with open(os.path.join(out, "corpus.txt"), "w", encoding="utf-8") as fh: fh.write(text)
QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
         r"|\s*[\r\n]+|\s+(?!\S)|\s+")
tok = Tokenizer(models.BPE())
tok.normalizer = normalizers.NFC()
tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2), behavior="isolated"),
                                             pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
tok.decoder = decoders.ByteLevel()
t0 = time.perf_counter()
tok.train_from_iterator(parts, trainer=trainers.BpeTrainer(vocab_size=vocab, show_progress=False,
    special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
train_s = time.perf_counter() - t0
os.makedirs(os.path.join(out, "tok"), exist_ok=True)
tok.save(os.path.join(out, "tok", "tokenizer.json"))
tok = Tokenizer.from_file(os.path.join(out, "tok", "tokenizer.json"))  # a fresh word cache
tok.encode_special_tokens = True  # special tokens in the text are text, as slmify's encode() by default
t0 = time.perf_counter(); ids = tok.encode(text).ids; whole_s = time.perf_counter() - t0
lines = text.splitlines(keepends=True)
t0 = time.perf_counter(); per_line = [e.ids for e in tok.encode_batch(lines)]; lines_s = time.perf_counter() - t0
with open(os.path.join(out, "ids.bin"), "wb") as fh: fh.write(struct.pack("<%di" % len(ids), *ids))
print(json.dumps({"train_s": train_s, "whole_s": whole_s, "lines_s": lines_s, "lines": len(lines),
                  "line_tokens": sum(map(len, per_line))}))
)PY";

int main(int argc, char** argv) {
  double mb = argc > 1 ? std::stod(argv[1]) : 4;
  int vocab = argc > 2 ? std::stoi(argv[2]) : 32000;
  fs::path dir = fs::temp_directory_path() / ("slmify-bench-tok-" + random_suffix());
  fs::create_directories(dir);
  write_file_atomic(dir / "hf.py", k_python);
  // One thread for the Rust side too: encode_batch would otherwise use every core.
  std::string cmd = "RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false '" SLMIFY_PYTHON "' " + (dir / "hf.py").string() +
                    " " + dir.string() + " " + std::to_string(mb) + " " + std::to_string(vocab) + " '" SLMIFY_SOURCE_DIR "'";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while (p && (n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (!p || ::pclose(p) != 0) {
    std::fprintf(stderr, "the HF tokenizers side failed:\n%s\n", out.c_str());
    return 1;
  }
  auto hf = nlohmann::json::parse(out.substr(out.rfind('{')));
  std::string text = read_file(dir / "corpus.txt");
  std::string raw_ids = read_file(dir / "ids.bin");
  std::vector<int32_t> want(raw_ids.size() / 4);
  std::memcpy(want.data(), raw_ids.data(), want.size() * 4);

  auto tok = tokenizer_load(dir / "tok");
  auto t = clk::now();
  TokenIds ids = tok->encode(text);
  double whole = seconds(t);
  std::vector<std::string_view> lines;
  for (size_t at = 0; at < text.size();) {
    size_t nl = text.find('\n', at);
    size_t end = nl == std::string::npos ? text.size() : nl + 1;
    lines.emplace_back(text.data() + at, end - at);
    at = end;
  }
  t = clk::now();
  size_t line_tokens = 0;
  for (std::string_view l : lines) line_tokens += tok->encode(l).size();
  double per_line = seconds(t);
  size_t first_diff = 0;
  while (first_diff < std::min(ids.size(), want.size()) && ids[first_diff] == want[first_diff]) ++first_diff;

  double text_mb = static_cast<double>(text.size()) / 1e6;
  double hf_whole = hf["whole_s"], hf_lines = hf["lines_s"];
  std::printf("input: %.1f MB (Python stdlib + docs), %zu lines, vocab %d, %zu tokens (HF trained it in %.1f s)\n",
              text_mb, lines.size(), vocab, want.size(), hf["train_s"].get<double>());
  std::printf("%-52s %7.1f MB/s\n", "HF tokenizers, encode(whole text), one core", text_mb / hf_whole);
  std::printf("%-52s %7.1f MB/s  %.2fx HF\n", "slmify Tokenizer::encode(whole text), one core", text_mb / whole, hf_whole / whole);
  std::printf("%-52s %7.1f MB/s\n", "HF tokenizers, encode_batch(lines), one thread", text_mb / hf_lines);
  std::printf("%-52s %7.1f MB/s  %.2fx HF\n", "slmify Tokenizer::encode per line, one core", text_mb / per_line, hf_lines / per_line);
  bool same = ids == want && line_tokens == hf["line_tokens"].get<size_t>();
  std::printf("ids identical to HF: %s\n", same ? "yes" : "NO");
  if (same) {
    fs::remove_all(dir);
    return 0;
  }
  std::string near;
  for (size_t i = first_diff >= 5 ? first_diff - 5 : 0; i < std::min(first_diff + 5, want.size()); ++i)
    near += "[" + tok->token_text(want[i]) + "|" + (i < ids.size() ? tok->token_text(ids[i]) : "") + "] ";
  std::printf("first difference at token %zu (HF|slmify): %s\nkept %s\n", first_diff, near.c_str(), dir.c_str());
  return 1;
}
