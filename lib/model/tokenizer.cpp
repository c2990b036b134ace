// tokenizer_load(): picks tokenizer.json (byte-level BPE, WordPiece) or tokenizer.model
// (sentencepiece) in an HF model directory and reads tokenizer_config.json; plus what all kinds share: the added-token
// splitter (HF AddedVocabulary semantics), UTF-8 helpers and special-token resolution.
// Tested by tests/model/test_tokenizer.cpp and test_wordpiece.cpp.
#include <utf8proc.h>

#include <algorithm>

#include "core/error.h"
#include "core/fsutil.h"
#include "model/tokenizer_impl.h"

namespace slmify {

namespace fs = std::filesystem;

TokenIds Tokenizer::encode_for_model(std::string_view text, bool parse_special) const {
  TokenIds ids;
  if (specials_.add_bos && specials_.bos) ids.push_back(*specials_.bos);
  TokenIds body = encode(text, parse_special);
  ids.insert(ids.end(), body.begin(), body.end());
  if (specials_.add_eos && specials_.eos) ids.push_back(*specials_.eos);
  return ids;
}

std::unique_ptr<Tokenizer> tokenizer_load(const fs::path& model_dir) {
  if (!fs::is_directory(model_dir))
    throw_io(model_dir.string(), "not a directory", "pass the model directory (the one holding config.json)");
  fs::path tj = model_dir / "tokenizer.json", sp = model_dir / "tokenizer.model";
  bool has_json = fs::exists(tj), has_sp = fs::exists(sp);
  if (!has_json && !has_sp)
    throw_io(model_dir.string(), "no tokenizer: neither tokenizer.json nor tokenizer.model is there",
             "copy the tokenizer files of the base model into this directory");
  tok::TokenizerConfig config = tok::read_tokenizer_config(model_dir);
  if (has_json) {
    try {
      return tok::bpe_tokenizer_load(tj, config);
    } catch (const Error& e) {
      if (e.code() != ExitCode::usage) throw;
      // BERT-style encoders (the BPE loader refused the file at model.type: parsing it again is cheap).
      tok::json j = tok::read_json_file(tj);
      if (j["model"].value("type", "") == "WordPiece") return tok::wordpiece_tokenizer_load(tj, j, config);
      // A sentencepiece-style tokenizer.json (Llama-2, Mistral, Gemma) next to its .model file.
      if (!has_sp) throw;
    }
  }
  return tok::sp_tokenizer_load(sp, config);
}

namespace tok {

// ---- added tokens ----

void AddedTokens::add(AddedToken token) {
  SLMIFY_ASSERT(!token.content.empty(), "empty added token");
  size_t index = tokens_.size();
  by_id_[token.id] = index;
  by_content_.emplace(token.content, index);
  count_[token.normalized ? 1 : 0]++;
  tokens_.push_back(std::move(token));
  auto& bucket = by_first_byte_[static_cast<unsigned char>(tokens_.back().content[0])];
  bucket.push_back(index);
  std::stable_sort(bucket.begin(), bucket.end(),
                   [&](size_t a, size_t b) { return tokens_[a].content.size() > tokens_[b].content.size(); });
}

const AddedToken* AddedTokens::by_id(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

std::optional<int32_t> AddedTokens::id_of(std::string_view content) const {
  auto it = by_content_.find(std::string(content));
  if (it == by_content_.end()) return std::nullopt;
  return tokens_[it->second].id;
}

static char32_t last_char(std::string_view s) {
  size_t i = s.size();
  while (i > 0 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) --i;
  if (i > 0) --i;
  return utf8_next(s, i);
}

void AddedTokens::split(std::string_view text, bool normalized, bool parse_special,
                        std::vector<TextPiece>& out) const {
  size_t done = 0;  // text before this offset is in `out`
  size_t pos = 0;
  const int want = normalized ? 1 : 0;
  while (count_[want] > 0 && pos < text.size()) {
    const AddedToken* hit = nullptr;
    for (size_t index : by_first_byte_[static_cast<unsigned char>(text[pos])]) {
      const AddedToken& t = tokens_[index];
      if (t.normalized == normalized && text.compare(pos, t.content.size(), t.content) == 0) {
        hit = &t;  // longest first
        break;
      }
    }
    if (!hit) {
      ++pos;
      continue;
    }
    size_t start = pos, stop = pos + hit->content.size();
    pos = stop;  // the match is consumed even when the rules below reject it (as HF's automaton)
    if (hit->special && !parse_special) continue;
    if (hit->single_word) {
      bool word_before = start > 0 && is_word_char(last_char(text.substr(0, start)));
      size_t k = stop;
      bool word_after = stop < text.size() && is_word_char(utf8_next(text, k));
      if (word_before || word_after) continue;
    }
    if (hit->lstrip) {  // swallow the whitespace before, back to the previous match at most
      while (start > done) {
        size_t at = start - 1;
        while (at > done && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) --at;
        size_t probe = at;
        if (!is_unicode_whitespace(utf8_next(text, probe))) break;
        start = at;
      }
    }
    if (hit->rstrip) {
      while (stop < text.size()) {
        size_t k = stop;
        if (!is_unicode_whitespace(utf8_next(text, k))) break;
        stop = k;
      }
      pos = stop;
    }
    if (start > done) out.push_back({text.substr(done, start - done), -1});
    out.push_back({text.substr(start, stop - start), hit->id});
    done = stop;
  }
  if (done < text.size()) out.push_back({text.substr(done), -1});
}

// ---- UTF-8 ----

char32_t utf8_next(std::string_view s, size_t& i) {
  unsigned char c = static_cast<unsigned char>(s[i++]);
  if (c < 0x80) return c;
  int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
  char32_t cp = c & (0x3F >> extra);
  for (int k = 0; k < extra && i < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i++]) & 0x3F);
  return cp;
}

void utf8_append(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

void utf8_check(std::string_view s, const char* what) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool ok = len > 0 && i + len <= n && c != 0xC0 && c != 0xC1 && c <= 0xF4;
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok) {
      size_t j = i;
      char32_t cp = utf8_next(s, j);
      ok = !(cp >= 0xD800 && cp <= 0xDFFF) && cp <= 0x10FFFF && cp >= (len == 3 ? 0x800u : len == 4 ? 0x10000u : 0x80u);
    }
    if (!ok)
      throw_bad_data(what, "invalid UTF-8 at byte " + std::to_string(i),
                     "tokenizers take UTF-8 text; decode the input as UTF-8 (replacing bad bytes) first");
    i += len;
  }
}

bool is_word_char(char32_t c) {
  if (c == '_') return true;
  utf8proc_category_t cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
         (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
}

bool is_unicode_whitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// ---- files ----

json read_json_file(const fs::path& path) {
  std::string text = read_file(path);
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw_bad_data(path.string(), std::string("not valid JSON: ") + e.what(),
                   "the file is damaged; copy it again from the base model");
  }
}

static std::optional<std::string> token_name(const json& config, const char* key, const fs::path& path) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  throw_bad_data(path.string() + " " + key, "expected a string or {\"content\": ...}, got " + it->dump());
}

static bool flag(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

TokenizerConfig read_tokenizer_config(const fs::path& model_dir) {
  TokenizerConfig c;
  fs::path path = model_dir / "tokenizer_config.json";
  if (fs::exists(model_dir / "chat_template.jinja")) c.chat_template = read_file(model_dir / "chat_template.jinja");
  if (!fs::exists(path)) return c;
  c.path = path;
  json j = read_json_file(path);
  if (!j.is_object()) throw_bad_data(path.string(), "expected a JSON object");
  c.bos = token_name(j, "bos_token", path);
  c.eos = token_name(j, "eos_token", path);
  c.pad = token_name(j, "pad_token", path);
  c.unk = token_name(j, "unk_token", path);
  if (j.contains("add_bos_token") && j["add_bos_token"].is_boolean()) c.add_bos = j["add_bos_token"].get<bool>();
  if (j.contains("add_eos_token") && j["add_eos_token"].is_boolean()) c.add_eos = j["add_eos_token"].get<bool>();
  const json& ct = j.contains("chat_template") ? j["chat_template"] : json();
  if (ct.is_string()) {
    c.chat_template = ct.get<std::string>();
  } else if (ct.is_array()) {
    for (const json& t : ct)
      if (t.is_object() && t.value("name", "") == "default" && t.contains("template") && t["template"].is_string())
        c.chat_template = t["template"].get<std::string>();
  } else if (!ct.is_null()) {
    throw_bad_data(path.string() + " chat_template", "expected a string or a list of {name, template}");
  }
  if (j.contains("added_tokens_decoder") && j["added_tokens_decoder"].is_object()) {
    for (const auto& [key, t] : j["added_tokens_decoder"].items()) {
      if (!t.is_object() || !t.contains("content") || !t["content"].is_string()) continue;
      AddedToken a;
      try {
        a.id = std::stoi(key);
      } catch (const std::exception&) {
        throw_bad_data(path.string() + " added_tokens_decoder." + key, "the key is not a token id");
      }
      a.content = t["content"].get<std::string>();
      a.special = flag(t, "special");
      a.lstrip = flag(t, "lstrip");
      a.rstrip = flag(t, "rstrip");
      a.single_word = flag(t, "single_word");
      a.normalized = flag(t, "normalized");
      if (!a.content.empty()) c.added_tokens.push_back(std::move(a));
    }
  }
  return c;
}

void resolve_specials(const Tokenizer& tok, const TokenizerConfig& config, TokenizerSpecials& specials) {
  auto resolve = [&](const std::optional<std::string>& name, const char* key, std::optional<int32_t>& slot) {
    if (!name) return;
    std::optional<int32_t> id = tok.token_id(*name);
    if (!id)
      throw_bad_data(config.path.string() + " " + key, "names \"" + *name + "\", which is not in the tokenizer",
                     "the tokenizer files do not belong together; copy them all from the same base model");
    slot = id;
  };
  resolve(config.bos, "bos_token", specials.bos);
  resolve(config.eos, "eos_token", specials.eos);
  resolve(config.pad, "pad_token", specials.pad);
  resolve(config.unk, "unk_token", specials.unk);
  if (!config.chat_template.empty()) specials.chat_template = config.chat_template;
}

std::optional<int32_t> VocabTokenizer::token_id(std::string_view token) const {
  if (auto id = added_.id_of(token)) return id;
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

std::string VocabTokenizer::token_text(int32_t id) const {
  if (const AddedToken* a = added_.by_id(id)) return a->content;
  return id >= 0 && id < size_ ? tokens_[static_cast<size_t>(id)] : std::string();
}

bool VocabTokenizer::is_special(int32_t id) const {
  const AddedToken* a = added_.by_id(id);
  return a && a->special;
}

void VocabTokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= size_)
    throw_bad_data("token id " + std::to_string(id), "out of range for this tokenizer (vocab size " + std::to_string(size_) + ")");
}

void VocabTokenizer::load_added_tokens(const json& j, const std::string& where) {
  if (!j.contains("added_tokens") || !j["added_tokens"].is_array()) return;
  for (const json& t : j["added_tokens"]) {
    AddedToken a;
    a.id = t.value("id", -1);
    a.content = t.value("content", "");
    a.special = t.value("special", false);
    a.lstrip = t.value("lstrip", false);
    a.rstrip = t.value("rstrip", false);
    a.single_word = t.value("single_word", false);
    a.normalized = t.value("normalized", !a.special);
    if (a.id < 0 || a.content.empty()) throw_bad_data(where + "added_tokens", "an entry lacks id or content: " + t.dump());
    size_ = std::max(size_, a.id + 1);
    added_.add(std::move(a));
  }
}

void VocabTokenizer::load_template_processing(const json& j, const std::string& where) {
  std::vector<int32_t> before, after;
  bool seen_sequence = false;
  for (const json& item : j["single"]) {
    if (item.contains("Sequence")) {
      seen_sequence = true;
    } else if (item.contains("SpecialToken")) {
      std::string name = item["SpecialToken"].value("id", "");
      const json& st = j.value("special_tokens", json::object());
      std::vector<int32_t> ids;
      if (st.contains(name)) {
        ids = st[name].value("ids", std::vector<int32_t>{});
      } else {
        std::optional<int32_t> id = token_id(name);
        if (!id) throw_bad_data(where, "names token \"" + name + "\", which is not in the tokenizer");
        ids = {*id};
      }
      std::vector<int32_t>& side = seen_sequence ? after : before;
      side.insert(side.end(), ids.begin(), ids.end());
    }
  }
  if (before.size() > 1 || after.size() > 1)
    throw_usage(where + ".single", "adds more than one token before or after the text",
                "only templates with at most one token on each side (BOS/EOS, [CLS] $A [SEP]) are supported");
  if (!before.empty()) specials_.add_bos = true, specials_.bos = before[0];
  if (!after.empty()) specials_.add_eos = true, specials_.eos = after[0];
}

}  // namespace tok
}  // namespace slmify
