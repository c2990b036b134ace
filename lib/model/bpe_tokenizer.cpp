// Byte-level BPE from tokenizer.json: added tokens split out first, then normalizer, pre-tokenizer
// (bpe_pretokenize.cpp) and the BPE model (lowest-rank merge first, leftmost on ties, as HF's
// Word::merge_all; `ignore_merges` takes whole words found in the vocab). Unsupported files are
// usage errors naming the field. Tested by tests/model/test_tokenizer.cpp against HF tokenizers.
#include <algorithm>
#include <deque>
#include <queue>

#include "core/error.h"
#include "model/bpe_tokenizer.h"
#include "model/tokenizer_impl.h"

namespace slmify::tok {
namespace {

namespace fs = std::filesystem;

const char* const k_supported =
    "slmify reads byte-level BPE tokenizer.json files (GPT-2, Llama-3, Qwen2, SmolLM2 families) and "
    "sentencepiece tokenizer.model files; for other tokenizers put the base model's tokenizer.model in the directory";


struct Merge {
  int32_t rank;
  int32_t id;
};

// Reusable buffers of one encode() call.
struct BpeScratch {
  struct Symbol {
    int32_t id, prev, next;
  };
  struct Candidate {
    int32_t rank, pos, left, right, merged;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
};

class BpeTokenizer final : public VocabTokenizer {
 public:
  BpeTokenizer(const fs::path& path, const TokenizerConfig& config);

  TokenIds encode(std::string_view text, bool parse_special) const override {
    utf8_check(text, "tokenizer input");
    TokenIds ids;
    RegexScratch regex_scratch;
    BpeScratch bpe;
    std::deque<std::string> arena;
    std::vector<TextPiece> raw, normalized;
    std::vector<std::string_view> words;
    added_.split(text, false, parse_special, raw);
    for (const TextPiece& piece : raw) {
      if (piece.id >= 0) {
        ids.push_back(piece.id);
        continue;
      }
      std::string_view body = piece.text;
      if (!normalizer_.identity()) body = arena.emplace_back(normalizer_.apply(body));
      normalized.clear();
      added_.split(body, true, parse_special, normalized);
      for (const TextPiece& p : normalized) {
        if (p.id >= 0) {
          ids.push_back(p.id);
          continue;
        }
        words.clear();
        pre_tokenizer_.run(p.text, words, arena, regex_scratch);
        for (std::string_view w : words) encode_word(w, bpe, ids);
      }
    }
    return ids;
  }

  std::string decode(std::span<const int32_t> ids, bool skip_special) const override {
    std::string out;
    for (int32_t id : ids) {
      check_id(id);
      if (skip_special && is_special(id)) continue;
      out += decoded_[static_cast<size_t>(id)];
    }
    return out;
  }

  std::string kind() const override { return "bpe"; }

 private:
  void encode_word(std::string_view word, BpeScratch& s, TokenIds& out) const;
  void load_model(const json& model, const std::string& where);
  void load_post_processor(const json& j, const std::string& where);

  TextNormalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  VocabMap vocab_bytes_;                      // the bytes a token stands for (" the") -> id
  std::vector<std::string> decoded_;          // id -> bytes decode() emits
  std::unordered_map<uint64_t, Merge> merges_;  // (left id << 32 | right id) -> rank, merged id
  std::array<int32_t, 256> byte_id_{};
  std::optional<int32_t> unk_;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
};

uint64_t pair_key(int32_t a, int32_t b) { return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b); }

// The bytes of a byte-level token, each character mapped back to its byte; nullopt when a character
// is not one of the 256 (HF's ByteLevel decoder then emits the token as it is).
std::optional<std::string> byte_level_bytes(std::string_view token) {
  std::string bytes;
  size_t i = 0;
  while (i < token.size()) {
    int b = unicode_to_byte(utf8_next(token, i));
    if (b < 0) return std::nullopt;
    bytes += static_cast<char>(b);
  }
  return bytes;
}

BpeTokenizer::BpeTokenizer(const fs::path& path, const TokenizerConfig& config) {
  json j = read_json_file(path);
  const std::string where = path.string() + " ";
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
    throw_bad_data(path.string(), "no \"model\" object: this is not a tokenizer.json file");
  load_model(j["model"], where + "model");
  normalizer_ = TextNormalizer::parse(j.value("normalizer", json()), where + "normalizer");
  pre_tokenizer_ = PreTokenizer::parse(j.value("pre_tokenizer", json()), where + "pre_tokenizer");
  json decoder = j.value("decoder", json());
  if (!decoder.is_object() || decoder.value("type", "") != "ByteLevel")
    throw_usage(where + "decoder", "unsupported decoder " + decoder.dump().substr(0, 80),
                "byte-level BPE needs the ByteLevel decoder; " + std::string(k_supported));
  load_added_tokens(j, where);
  tokens_.resize(static_cast<size_t>(size_));
  decoded_.resize(static_cast<size_t>(size_));
  for (const auto& [token, id] : vocab_) {
    tokens_[static_cast<size_t>(id)] = token;
    std::optional<std::string> bytes = byte_level_bytes(token);
    decoded_[static_cast<size_t>(id)] = bytes.value_or(token);
    if (bytes) vocab_bytes_.emplace(std::move(*bytes), id);
  }
  for (const AddedToken& a : added_.all()) {
    tokens_[static_cast<size_t>(a.id)] = a.content;
    decoded_[static_cast<size_t>(a.id)] = byte_level_bytes(a.content).value_or(a.content);
  }
  load_post_processor(j.value("post_processor", json()), where + "post_processor");
  if (config.add_bos || config.add_eos) {  // as transformers: explicit flags rebuild the post-processor
    specials_.add_bos = config.add_bos.value_or(false);
    specials_.add_eos = config.add_eos.value_or(false);
  }
  resolve_specials(*this, config, specials_);
}

void BpeTokenizer::load_model(const json& m, const std::string& where) {
  std::string type = m.value("type", m.contains("merges") ? "BPE" : "");
  if (type != "BPE")
    throw_usage(where + ".type", "unsupported tokenizer model \"" + type + "\"", k_supported);
  if (m.value("byte_fallback", false))
    throw_usage(where + ".byte_fallback", "sentencepiece-style BPE with byte fallback is not byte-level BPE", k_supported);
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (m.contains(key) && m[key].is_string() && !m[key].get<std::string>().empty())
      throw_usage(where + "." + key, "subword prefixes/suffixes are not supported", k_supported);
  if (m.contains("dropout") && m["dropout"].is_number() && m["dropout"].get<double>() > 0)
    throw_usage(where + ".dropout", "BPE dropout is set; encoding would be random", "set \"dropout\": null");
  if (!m.contains("vocab") || !m["vocab"].is_object()) throw_bad_data(where + ".vocab", "missing or not an object");
  for (const auto& [token, id] : m["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
      throw_bad_data(where + ".vocab", "token " + json(token).dump() + " has a bad id " + id.dump());
    vocab_.emplace(token, id.get<int32_t>());
    size_ = std::max(size_, id.get<int32_t>() + 1);
  }
  ignore_merges_ = m.value("ignore_merges", false);
  fuse_unk_ = m.value("fuse_unk", false);
  if (m.contains("unk_token") && m["unk_token"].is_string()) {
    auto it = vocab_.find(m["unk_token"].get<std::string>());
    if (it == vocab_.end()) throw_bad_data(where + ".unk_token", "is not in the vocab");
    unk_ = it->second;
    specials_.unk = unk_;
  }
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    utf8_append(ch, byte_to_unicode()[static_cast<size_t>(b)]);
    auto it = vocab_.find(ch);
    byte_id_[static_cast<size_t>(b)] = it == vocab_.end() ? -1 : it->second;
  }
  const json& merges = m.contains("merges") ? m["merges"] : json::array();
  if (!merges.is_array()) throw_bad_data(where + ".merges", "expected a list");
  int32_t rank = 0;
  for (const json& mg : merges) {
    std::string left, right;
    if (mg.is_string()) {  // "Ġ t" (tokenizers < 0.20)
      const std::string& s = mg.get_ref<const std::string&>();
      size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        throw_bad_data(where + ".merges[" + std::to_string(rank) + "]", "expected \"left right\", got " + mg.dump());
      left = s.substr(0, sp);
      right = s.substr(sp + 1);
    } else if (mg.is_array() && mg.size() == 2 && mg[0].is_string() && mg[1].is_string()) {  // ["Ġ", "t"]
      left = mg[0].get<std::string>();
      right = mg[1].get<std::string>();
    } else {
      throw_bad_data(where + ".merges[" + std::to_string(rank) + "]", "expected \"a b\" or [\"a\", \"b\"], got " + mg.dump());
    }
    auto l = vocab_.find(left), r = vocab_.find(right), lr = vocab_.find(left + right);
    if (l == vocab_.end() || r == vocab_.end() || lr == vocab_.end())
      throw_bad_data(where + ".merges[" + std::to_string(rank) + "]", "merges " + mg.dump() + " into a token missing from the vocab");
    merges_.emplace(pair_key(l->second, r->second), Merge{rank, lr->second});  // the first (lowest rank) wins
    ++rank;
  }
}

// What the post-processor adds around a single sequence: BOS before, EOS after (one each at most).
void BpeTokenizer::load_post_processor(const json& j, const std::string& where) {
  std::string type = j.is_object() ? j.value("type", "") : "";
  if (j.is_null() || type == "ByteLevel") return;
  if (type == "Sequence" && j.contains("processors") && j["processors"].is_array()) {
    for (const json& p : j["processors"]) load_post_processor(p, where);
    return;
  }
  auto id_of = [&](const std::string& token) {
    std::optional<int32_t> id = token_id(token);
    if (!id) throw_bad_data(where, "names token \"" + token + "\", which is not in the tokenizer");
    return *id;
  };
  if (type == "TemplateProcessing" && j.contains("single") && j["single"].is_array()) {
    load_template_processing(j, where);
    return;
  }
  if ((type == "RobertaProcessing" || type == "BertProcessing") && j.contains("cls") && j.contains("sep")) {
    specials_.add_bos = specials_.add_eos = true;
    specials_.bos = id_of(j["cls"][0].get<std::string>());
    specials_.eos = id_of(j["sep"][0].get<std::string>());
    return;
  }
  throw_usage(where, "unsupported post_processor " + j.dump().substr(0, 80),
              "supported: null, ByteLevel, TemplateProcessing, RobertaProcessing, BertProcessing, Sequence");
}

void BpeTokenizer::encode_word(std::string_view word, BpeScratch& s, TokenIds& out) const {
  if (ignore_merges_ || word.size() == 1) {
    auto it = vocab_bytes_.find(word);
    if (it != vocab_bytes_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  auto& sym = s.symbols;
  sym.clear();
  for (unsigned char b : word) {
    int32_t id = byte_id_[b];
    if (id < 0) {  // a byte missing from the vocab: unk (fused) or dropped, as HF
      if (!unk_) continue;
      if (fuse_unk_ && !sym.empty() && sym.back().id == *unk_) continue;
      id = *unk_;
    }
    int32_t n = static_cast<int32_t>(sym.size());
    sym.push_back({id, n - 1, n + 1});
  }
  if (sym.empty()) return;
  sym.back().next = -1;
  auto& heap = s.heap;
  heap.clear();
  auto consider = [&](int32_t pos) {
    int32_t nx = sym[static_cast<size_t>(pos)].next;
    if (nx < 0) return;
    auto it = merges_.find(pair_key(sym[static_cast<size_t>(pos)].id, sym[static_cast<size_t>(nx)].id));
    if (it == merges_.end()) return;
    heap.push_back({it->second.rank, pos, sym[static_cast<size_t>(pos)].id, sym[static_cast<size_t>(nx)].id, it->second.id});
    std::push_heap(heap.begin(), heap.end(), std::greater<>());
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(sym.size()); ++i) consider(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    BpeScratch::Candidate c = heap.back();
    heap.pop_back();
    auto& left = sym[static_cast<size_t>(c.pos)];
    if (left.id != c.left || left.next < 0 || sym[static_cast<size_t>(left.next)].id != c.right) continue;  // stale
    auto& right = sym[static_cast<size_t>(left.next)];
    left.id = c.merged;
    left.next = right.next;
    if (right.next >= 0) sym[static_cast<size_t>(right.next)].prev = c.pos;
    right.id = -1;  // dead
    if (left.prev >= 0) consider(left.prev);
    consider(c.pos);
  }
  for (int32_t i = 0; i >= 0; i = sym[static_cast<size_t>(i)].next) out.push_back(sym[static_cast<size_t>(i)].id);
}

}  // namespace

std::unique_ptr<Tokenizer> bpe_tokenizer_load(const fs::path& tokenizer_json, const TokenizerConfig& config) {
  return std::make_unique<BpeTokenizer>(tokenizer_json, config);
}

}  // namespace slmify::tok
