// WordPiece from tokenizer.json (BERT and sentence-transformers encoders such as all-MiniLM-L6-v2):
// added tokens split out first, then HF's BertNormalizer, BertPreTokenizer (whitespace removed,
// punctuation isolated) and greedy longest-match-first WordPiece with "##" continuations.
// Tested by tests/model/test_wordpiece.cpp against HF tokenizers on the MiniLM tokenizer and variants.
#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <deque>

#include "core/error.h"
#include "model/tokenizer_impl.h"

namespace slmify::tok {
namespace {

namespace fs = std::filesystem;


// HF's BertNormalizer: its definitions of control, whitespace and CJK characters, and its order
// (clean, pad CJK, strip accents, lowercase).
struct BertNormalizer {
  bool clean_text = true, handle_chinese_chars = true, strip_accents = true, lowercase = true;

  static bool is_control(char32_t c) {  // Cc, Cf, Co, Cs but not \t \n \r (unassigned Cn is kept)
    if (c == '\t' || c == '\n' || c == '\r') return false;
    utf8proc_category_t cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
    return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CO ||
           cat == UTF8PROC_CATEGORY_CS;
  }
  // HF's table, including its 0x2B920 (not BERT's 0x2B820) start of Extension E.
  static bool is_chinese_char(char32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
  }

  std::string apply(std::string_view text) const {
    std::string out;
    out.reserve(text.size() + 8);
    size_t i = 0;
    while (i < text.size()) {
      char32_t c = utf8_next(text, i);
      if (clean_text) {
        if (c == 0 || c == 0xFFFD || is_control(c)) continue;
        if (is_unicode_whitespace(c)) c = ' ';
      }
      if (handle_chinese_chars && is_chinese_char(c)) {
        out += ' ';
        utf8_append(out, c);
        out += ' ';
      } else {
        utf8_append(out, c);
      }
    }
    if (strip_accents) out = strip_marks(out);
    if (lowercase) out = to_lower(out);
    return out;
  }

  // NFD, then every nonspacing mark (Mn) dropped.
  static std::string strip_marks(const std::string& s) {
    utf8proc_uint8_t* nfd = nullptr;
    utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                      static_cast<utf8proc_ssize_t>(s.size()), &nfd,
                                      static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE));
    SLMIFY_ASSERT(n >= 0, "utf8proc_map failed on checked UTF-8");
    std::string_view d(reinterpret_cast<const char*>(nfd), static_cast<size_t>(n));
    std::string out;
    out.reserve(d.size());
    size_t i = 0;
    while (i < d.size()) {
      char32_t c = utf8_next(d, i);
      if (utf8proc_category(static_cast<utf8proc_int32_t>(c)) != UTF8PROC_CATEGORY_MN) utf8_append(out, c);
    }
    std::free(nfd);
    return out;
  }

  // Rust's char::to_lowercase: the simple mapping, except U+0130 'İ', the one code point whose
  // unconditional lowercase is two characters.
  static std::string to_lower(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
      char32_t c = utf8_next(s, i);
      if (c == 0x130) {
        out += 'i';
        utf8_append(out, 0x307);
      } else {
        utf8_append(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
      }
    }
    return out;
  }
};

// BertPreTokenizer's punctuation: ASCII punctuation (which includes $ + < = > ^ ` |) or Unicode P*.
bool is_bert_punct(char32_t c) {
  if (c < 0x80) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
  utf8proc_category_t cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

class WordPieceTokenizer final : public VocabTokenizer {
 public:
  WordPieceTokenizer(const fs::path& path, const json& j, const TokenizerConfig& config);

  TokenIds encode(std::string_view text, bool parse_special) const override {
    utf8_check(text, "tokenizer input");
    TokenIds ids;
    std::deque<std::string> arena;
    std::vector<TextPiece> raw, normalized;
    added_.split(text, false, parse_special, raw);
    for (const TextPiece& piece : raw) {
      if (piece.id >= 0) {
        ids.push_back(piece.id);
        continue;
      }
      std::string_view body = piece.text;
      if (normalizer_) body = arena.emplace_back(normalizer_->apply(body));
      normalized.clear();
      added_.split(body, true, parse_special, normalized);
      for (const TextPiece& p : normalized) {
        if (p.id >= 0) ids.push_back(p.id);
        else pre_tokenize_and_encode(p.text, ids);
      }
    }
    return ids;
  }

  std::string decode(std::span<const int32_t> ids, bool skip_special) const override {
    std::string out;
    bool first = true;
    for (int32_t id : ids) {
      check_id(id);
      if (skip_special && is_special(id)) continue;
      std::string t = token_text(id);
      if (!first && t.rfind(prefix_, 0) == 0) t.erase(0, prefix_.size());
      else if (!first) t.insert(0, " ");
      first = false;
      out += cleanup_ ? cleanup(t) : t;
    }
    return out;
  }

  std::string kind() const override { return "wordpiece"; }

 private:
  void pre_tokenize_and_encode(std::string_view text, TokenIds& out) const;
  void encode_word(std::string_view word, TokenIds& out) const;
  void load_post_processor(const json& j, const std::string& where);

  // The WordPiece decoder's per-token cleanup (HF tokenizers' decoders::wordpiece::cleanup).
  static std::string cleanup(std::string s) {
    static const std::pair<const char*, const char*> k_rules[] = {
        {" .", "."},   {" ?", "?"},   {" !", "!"},       {" ,", ","},     {" ' ", "'"},  {" n't", "n't"},
        {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    for (const auto& [from, to] : k_rules) {
      std::string f = from, r;
      size_t pos = 0, hit;
      while ((hit = s.find(f, pos)) != std::string::npos) {
        r.append(s, pos, hit - pos);
        r += to;
        pos = hit + f.size();
      }
      r.append(s, pos, std::string::npos);
      s = std::move(r);
    }
    return s;
  }

  std::optional<BertNormalizer> normalizer_;
  std::string prefix_ = "##";
  size_t max_chars_ = 100;
  int32_t unk_ = -1;
  bool cleanup_ = true;
};

WordPieceTokenizer::WordPieceTokenizer(const fs::path& path, const json& j, const TokenizerConfig& config) {
  const std::string where = path.string() + " ";
  const json& m = j["model"];
  if (!m.contains("vocab") || !m["vocab"].is_object()) throw_bad_data(where + "model.vocab", "missing or not an object");
  for (const auto& [token, id] : m["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
      throw_bad_data(where + "model.vocab", "token " + json(token).dump() + " has a bad id " + id.dump());
    vocab_.emplace(token, id.get<int32_t>());
    size_ = std::max(size_, id.get<int32_t>() + 1);
  }
  if (m.contains("continuing_subword_prefix") && m["continuing_subword_prefix"].is_string())
    prefix_ = m["continuing_subword_prefix"].get<std::string>();
  if (m.contains("max_input_chars_per_word") && m["max_input_chars_per_word"].is_number_unsigned())
    max_chars_ = m["max_input_chars_per_word"].get<size_t>();
  std::string unk = m.value("unk_token", "[UNK]");
  auto unk_it = vocab_.find(unk);
  if (unk_it == vocab_.end()) throw_bad_data(where + "model.unk_token", "\"" + unk + "\" is not in the vocab");
  unk_ = unk_it->second;
  specials_.unk = unk_;

  const json& norm = j.value("normalizer", json());
  if (!norm.is_null()) {
    if (!norm.is_object() || norm.value("type", "") != "BertNormalizer")
      throw_usage(where + "normalizer", "unsupported normalizer " + norm.dump().substr(0, 80) + " for WordPiece",
                  "slmify's WordPiece tokenizer supports the BertNormalizer (or none)");
    BertNormalizer n;
    n.clean_text = norm.value("clean_text", true);
    n.handle_chinese_chars = norm.value("handle_chinese_chars", true);
    n.lowercase = norm.value("lowercase", true);
    n.strip_accents = norm.contains("strip_accents") && norm["strip_accents"].is_boolean()
                          ? norm["strip_accents"].get<bool>()
                          : n.lowercase;  // null: follows lowercase, as in HF
    normalizer_ = n;
  }
  const json& pre = j.value("pre_tokenizer", json());
  if (!pre.is_object() || pre.value("type", "") != "BertPreTokenizer")
    throw_usage(where + "pre_tokenizer", "unsupported pre_tokenizer " + pre.dump().substr(0, 80) + " for WordPiece",
                "slmify's WordPiece tokenizer supports the BertPreTokenizer");
  const json& dec = j.value("decoder", json());
  if (dec.is_object() && dec.value("type", "") == "WordPiece") {
    prefix_ = dec.value("prefix", prefix_);
    cleanup_ = dec.value("cleanup", true);
  } else if (!dec.is_null()) {
    throw_usage(where + "decoder", "unsupported decoder " + dec.dump().substr(0, 80) + " for WordPiece",
                "slmify's WordPiece tokenizer supports the WordPiece decoder");
  }
  load_added_tokens(j, where);
  tokens_.resize(static_cast<size_t>(size_));
  for (const auto& [token, id] : vocab_) tokens_[static_cast<size_t>(id)] = token;
  for (const AddedToken& a : added_.all()) tokens_[static_cast<size_t>(a.id)] = a.content;
  load_post_processor(j.value("post_processor", json()), where + "post_processor");
  if (config.add_bos || config.add_eos) {  // as transformers: explicit flags rebuild the post-processor
    specials_.add_bos = config.add_bos.value_or(false);
    specials_.add_eos = config.add_eos.value_or(false);
  }
  resolve_specials(*this, config, specials_);
}

// [CLS] $A [SEP]: the token before the text is stored as BOS, the one after as EOS.
void WordPieceTokenizer::load_post_processor(const json& j, const std::string& where) {
  std::string type = j.is_object() ? j.value("type", "") : "";
  if (j.is_null()) return;
  auto id_of = [&](const std::string& token) {
    std::optional<int32_t> id = token_id(token);
    if (!id) throw_bad_data(where, "names token \"" + token + "\", which is not in the tokenizer");
    return *id;
  };
  if (type == "BertProcessing" && j.contains("cls") && j.contains("sep") && j["cls"].is_array() && j["sep"].is_array()) {
    specials_.add_bos = specials_.add_eos = true;
    specials_.bos = id_of(j["cls"][0].get<std::string>());
    specials_.eos = id_of(j["sep"][0].get<std::string>());
    return;
  }
  if (type != "TemplateProcessing" || !j.contains("single") || !j["single"].is_array())
    throw_usage(where, "unsupported post_processor " + j.dump().substr(0, 80),
                "slmify's WordPiece tokenizer supports TemplateProcessing and BertProcessing");
  load_template_processing(j, where);
}

// BertPreTokenizer: whitespace separates words and is dropped; each punctuation mark is a word.
void WordPieceTokenizer::pre_tokenize_and_encode(std::string_view text, TokenIds& out) const {
  size_t start = 0, i = 0;
  while (i < text.size()) {
    size_t at = i;
    char32_t c = utf8_next(text, i);
    bool space = is_unicode_whitespace(c), punct = !space && is_bert_punct(c);
    if (!space && !punct) continue;
    if (at > start) encode_word(text.substr(start, at - start), out);
    if (punct) encode_word(text.substr(at, i - at), out);
    start = i;
  }
  if (start < text.size()) encode_word(text.substr(start), out);
}

// Greedy longest match first; a word with a stretch no vocab entry covers, or longer than
// max_input_chars_per_word characters, becomes one [UNK].
void WordPieceTokenizer::encode_word(std::string_view word, TokenIds& out) const {
  std::vector<size_t> bounds;  // byte offset of every character start, plus the end
  for (size_t i = 0; i < word.size();) {
    bounds.push_back(i);
    utf8_next(word, i);
  }
  bounds.push_back(word.size());
  const size_t n = bounds.size() - 1;
  if (n > max_chars_) {
    out.push_back(unk_);
    return;
  }
  const size_t mark = out.size();
  std::string key;
  for (size_t s = 0; s < n;) {
    int32_t found = -1;
    size_t e = n;
    for (; e > s; --e) {
      key.assign(s > 0 ? prefix_ : std::string());
      key.append(word.substr(bounds[s], bounds[e] - bounds[s]));
      auto it = vocab_.find(key);
      if (it != vocab_.end()) {
        found = it->second;
        break;
      }
    }
    if (found < 0) {
      out.resize(mark);
      out.push_back(unk_);
      return;
    }
    out.push_back(found);
    s = e;
  }
}

}  // namespace

std::unique_ptr<Tokenizer> wordpiece_tokenizer_load(const fs::path& tokenizer_json, const json& j,
                                                    const TokenizerConfig& config) {
  return std::make_unique<WordPieceTokenizer>(tokenizer_json, j, config);
}

}  // namespace slmify::tok
