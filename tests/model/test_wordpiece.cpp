// WordPiece tokenizers against HF `tokenizers`: tests/reference/wordpiece_reference.py encodes a
// varied text set with all-MiniLM-L6-v2's tokenizer.json and variants (normalizer flags, short
// max_input_chars_per_word, added tokens); ids, ids with [CLS]/[SEP] and decodes must be equal.
// Plus hand-written vocabularies for greedy longest match and [UNK], and unsupported files.
#include <catch2/catch.hpp>

#include "../core/test_util.h"
#include "minilm_dir.h"
#include "model/tokenizer.h"

using namespace slmify;
using namespace slmify_test;

namespace {

// A WordPiece tokenizer.json with the given vocabulary (ids in order) and the BERT pipeline.
json tiny_wordpiece(const std::vector<std::string>& vocab, json normalizer = nullptr) {
  json v = json::object();
  for (size_t i = 0; i < vocab.size(); ++i) v[vocab[i]] = i;
  if (normalizer.is_null())
    normalizer = {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
                  {"strip_accents", nullptr}, {"lowercase", true}};
  return {{"version", "1.0"},
          {"added_tokens", json::array({{{"id", 0}, {"content", "[UNK]"}, {"special", true}, {"normalized", false}},
                                        {{"id", 1}, {"content", "[CLS]"}, {"special", true}, {"normalized", false}},
                                        {{"id", 2}, {"content", "[SEP]"}, {"special", true}, {"normalized", false}}})},
          {"normalizer", normalizer},
          {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
          {"post_processor", {{"type", "BertProcessing"}, {"sep", {"[SEP]", 2}}, {"cls", {"[CLS]", 1}}}},
          {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}},
          {"model", {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"continuing_subword_prefix", "##"},
                     {"max_input_chars_per_word", 12}, {"vocab", v}}}};
}

TokenIds ids_of(const json& j) { return j.get<TokenIds>(); }

}  // namespace

TEST_CASE("wordpiece: ids and decodes equal HF tokenizers on MiniLM and its variants", "[tokenizer][python]") {
  minilm_dir();  // fails with the install command when the package is missing
  fs::path ref = python_reference_dir("wordpiece_reference.py");
  json expected = json::parse(read_bytes(ref / "expected.json"));
  std::map<std::string, std::unique_ptr<Tokenizer>> toks;
  int checked = 0;
  for (const json& c : expected["cases"]) {
    std::string variant = c["variant"], text = c["text"];
    auto& tok = toks[variant];
    if (!tok) {
      tok = tokenizer_load(ref / variant);
      REQUIRE(tok->kind() == "wordpiece");
    }
    INFO(variant << ": " << json(text).dump());
    CHECK(tok->encode(text) == ids_of(c["ids"]));
    CHECK(tok->encode(text, true) == ids_of(c["ids_special"]));
    TokenIds model = tok->encode_for_model(text);
    CHECK(model == ids_of(c["ids_model"]));
    CHECK(tok->decode(model) == c["decode"].get<std::string>());
    CHECK(tok->decode(model, true) == c["decode_skip"].get<std::string>());
    ++checked;
  }
  CHECK(checked >= 200);
}

TEST_CASE("wordpiece: the MiniLM directory loads with its specials from tokenizer_config.json", "[tokenizer][python]") {
  auto tok = tokenizer_load(minilm_dir());
  CHECK(tok->kind() == "wordpiece");
  CHECK(tok->vocab_size() == 30522);
  CHECK(tok->specials().bos == 101);  // [CLS]
  CHECK(tok->specials().eos == 102);  // [SEP]
  CHECK(tok->specials().pad == 0);
  CHECK(tok->specials().unk == 100);
  CHECK(tok->token_text(7592) == "hello");
  CHECK(tok->is_special(101));
  CHECK_FALSE(tok->is_special(7592));
}

TEST_CASE("wordpiece: greedy longest match, ## continuations and one unk for the whole word", "[tokenizer]") {
  TempDir d;
  write_bytes(d / "tokenizer.json",
              tiny_wordpiece({"[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "##a", "##ff", "aff", ",", "a", "##b"}).dump());
  auto tok = tokenizer_load(d.path());
  REQUIRE(tok->kind() == "wordpiece");
  CHECK(tok->encode("unaffable") == TokenIds{3, 4, 5});       // un ##aff ##able, not un ##a ##ff …
  CHECK(tok->encode("UNAFFABLE, aff") == TokenIds{3, 4, 5, 9, 8});
  CHECK(tok->encode("unaffablex aff") == TokenIds{0, 8});     // no piece covers "x": one [UNK]
  CHECK(tok->encode("abbbbbbbbbbb") == TokenIds{10, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11});  // 12 characters
  CHECK(tok->encode("abbbbbbbbbbbb") == TokenIds{0});          // 13 characters > max_input_chars_per_word
  CHECK(tok->encode_for_model("aff") == TokenIds{1, 8, 2});
  CHECK(tok->decode(tok->encode_for_model("unaffable , aff")) == "[CLS] unaffable, aff [SEP]");
  CHECK(tok->decode(tok->encode_for_model("unaffable , aff"), true) == "unaffable, aff");
  CHECK(tok->encode("[CLS]", true) == TokenIds{1});
  CHECK(tok->encode("[CLS]") != TokenIds{1});
}

TEST_CASE("wordpiece: unsupported normalizers and pre-tokenizers name the field", "[tokenizer]") {
  TempDir d;
  json j = tiny_wordpiece({"[UNK]", "[CLS]", "[SEP]", "a"}, {{"type", "Sequence"}, {"normalizers", json::array()}});
  write_bytes(d / "tokenizer.json", j.dump());
  Error norm = expect_error([&] { tokenizer_load(d.path()); });
  CHECK(norm.code() == ExitCode::usage);
  CHECK_THAT(norm.what(), Catch::Contains("tokenizer.json normalizer") && Catch::Contains("BertNormalizer"));

  j = tiny_wordpiece({"[UNK]", "[CLS]", "[SEP]", "a"});
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  write_bytes(d / "tokenizer.json", j.dump());
  Error pre = expect_error([&] { tokenizer_load(d.path()); });
  CHECK(pre.code() == ExitCode::usage);
  CHECK_THAT(pre.what(), Catch::Contains("tokenizer.json pre_tokenizer") && Catch::Contains("BertPreTokenizer"));

  j = tiny_wordpiece({"[CLS]", "[SEP]", "a"});
  j["added_tokens"] = json::array();
  write_bytes(d / "tokenizer.json", j.dump());
  Error unk = expect_error([&] { tokenizer_load(d.path()); });
  CHECK(unk.code() == ExitCode::bad_data);
  CHECK_THAT(unk.what(), Catch::Contains("model.unk_token"));
}
