"""Reference tokenizations for tests/model/test_tokenizer.cpp: builds small tokenizers with the
Hugging Face `tokenizers` library (byte-level BPE in the GPT-2, Llama-3, Qwen2 and SmolLM2 shapes,
plus two that exercise the other Split behaviours, NFKC and the added-token flags) and with the
`sentencepiece` package (BPE and unigram, byte fallback), then writes the ids and decodes of a
varied text set. Usage: tokenizer_reference.py OUT_DIR  (writes OUT_DIR/<name>/ and
OUT_DIR/expected.json: {cases, scores}). Deterministic; under a second."""
import io
import json
import os
import sys

import sentencepiece as spm
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

GPT2_RE = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_RE = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
             r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")
QWEN2_RE = LLAMA3_RE.replace(r"\p{N}{1,3}", r"\p{N}")

CORPUS = [
    "The quick brown fox jumps over the lazy dog. It's what they'll say, isn't it? We've seen it, I'm sure.",
    "def encode(text: str) -> list[int]:\n    return [ord(c) for c in text if c != ' ']\n",
    "for (int i = 0; i < 1024; ++i) { sum += values[i] * 3.14159; }\r\n",
    "Prices rose 12.5% in 2023 to $1,299,999 and 42 units; call 555-0100 before 9:30.",
    "Unicode: café, naïve, Ærøskøbing, Straße, Ελληνικά, русский текст, עברית, العربية.",
    "日本語のテキストと中文文本，还有한국어 텍스트。 Emoji: 🙂🚀👍🏽 and flags 🇫🇷.",
    "Whitespace   runs\t\ttabs\n\n\nnewlines   \n  trailing spaces   ",
    "<|im_start|>user\nHello there!<|im_end|>\n<|im_start|>assistant\nHi! How can I help?<|im_end|>",
    "JSON: {\"name\": \"slmify\", \"version\": [0, 1, 0], \"ok\": true, \"ratio\": 0.875}",
    "HELLO WORLD, SHE'LL GO; THEY'RE HERE. Don't, won't, can't, shouldn't've.",
] * 8

TEXTS = [
    "",
    "Hello world",
    "hello world, hello WORLD! hello-world_hello",
    "  leading and trailing  ",
    "   ",
    "a\nb\r\nc\n\n\nd\r\n\r\n",
    "tabs\tand\t\tmore\t \t",
    "It's they'll we've I'M SHE'LL don't 'S 'll",
    "12345678901234567890 and 3.14159 and 1,000,000 and ٣٤٥ and ² and Ⅻ",
    "café naïve Straße ÆØÅ",
    "cafe\u0301 nai\u0308ve e\u0301\u0301 \u0041\u030a",  # NFD input, combining marks
    "日本語のテキスト 中文文本 한국어",
    "emoji 🙂🚀👍🏽🇫🇷 mixed🙂text",
    "def f(x):\n    return x ** 2  # square\n\n",
    "if (a<b && c>=d) { x->y = z[0]; }",
    "nbsp\u00a0here, ideographic\u3000space, thin\u2009space, nel\u0085x, vt\u000bx, fs\u001cx, zwsp\u200bx",
    "<|im_start|>user\nhi<|im_end|>",
    "text<|endoftext|>more<|endoftext|>",
    "<|begin_of_text|>Hello<|eot_id|> after",
    "<s>Hi</s> there <unk>",
    "partial <|im_start tokens |im_end|>",
    "hello world said the crowd, hello worlds",
    "a <mask> b<mask>c  <mask>  d",
    "an unreachablewordtoken and xunreachablewordtoken",
    "a-b--c---d, x,y,,z",
    "mixed 🙂 and 日本 and 12 and  spaces\u3000and\u00a0",
    "x" * 300 + " " * 50 + "y",
    "\u0000\u0001 control \u007f chars \u00ad soft-hyphen",
    "".join(CORPUS[:10]) * 3,  # a long text: every construct again, many words per call
]


def bpe_tokenizer(name, specials):
    """Trains a byte-level BPE of the family `name` on CORPUS; returns the Tokenizer."""
    model = models.BPE(ignore_merges=(name == "llama3"))
    tok = Tokenizer(model)
    if name == "gpt2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    elif name == "llama3":
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3_RE), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    elif name == "qwen2":
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_RE), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    elif name == "smollm2":
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    elif name == "mixed":  # the other Split behaviours, add_prefix_space, and added-token flags
        tok.normalizer = normalizers.Sequence([normalizers.NFC()])
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split("\n", behavior="merged_with_previous"),
            pre_tokenizers.Split(",", behavior="removed"),
            pre_tokenizers.Split("-", behavior="merged_with_next"),
            pre_tokenizers.Split(Regex(r"\p{N}+"), behavior="contiguous"),
            pre_tokenizers.Digits(individual_digits=False),
            pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)])
    elif name == "inverted":  # NFKC, an inverted Split, ByteLevel without its regex
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(r"[\p{Lu}]?[\p{Ll}]+"), behavior="merged_with_previous", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer=trainer)
    if name == "llama3":
        bos = tok.token_to_id("<|begin_of_text|>")
        tok.post_processor = processors.TemplateProcessing(
            single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
            special_tokens=[("<|begin_of_text|>", bos)])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    if name == "mixed":
        tok.add_tokens([AddedToken("hello world", single_word=True),
                        AddedToken("<mask>", lstrip=True, rstrip=True, special=False, normalized=False)])
    return tok


def add_unreachable_word(tok_json):
    """Adds a vocab entry no merge sequence builds, so ignore_merges shows (Llama-3 behaviour)."""
    d = json.loads(tok_json)
    top = max(list(d["model"]["vocab"].values()) + [t["id"] for t in d["added_tokens"]])
    d["model"]["vocab"]["Ġunreachablewordtoken"] = top + 1
    return json.dumps(d, ensure_ascii=False)


def save_hf(out, name, tok_json, config, string_merges):
    d = json.loads(tok_json)
    if string_merges:
        d["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in d["model"]["merges"]]
    os.makedirs(os.path.join(out, name), exist_ok=True)
    with open(os.path.join(out, name, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(d, f, ensure_ascii=False)
    with open(os.path.join(out, name, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f)


def hf_cases(name, tok):
    cases = []
    for text in TEXTS:
        for parse_special in (False, True):
            tok.encode_special_tokens = not parse_special
            ids = tok.encode(text, add_special_tokens=False).ids
            model_ids = tok.encode(text, add_special_tokens=True).ids
            cases.append({"tokenizer": name, "text": text, "parse_special": parse_special, "ids": ids,
                          "model_ids": model_ids, "decoded": tok.decode(ids, skip_special_tokens=False),
                          "decoded_skip": tok.decode(ids, skip_special_tokens=True)})
    return cases


def sp_model(model_type, out, name, scores):
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(CORPUS), model_writer=buf, vocab_size=600,
                                   model_type=model_type, byte_fallback=True, num_threads=1, minloglevel=2,
                                   hard_vocab_limit=False, character_coverage=0.9995)
    os.makedirs(os.path.join(out, name), exist_ok=True)
    with open(os.path.join(out, name, "tokenizer.model"), "wb") as f:
        f.write(buf.getvalue())
    with open(os.path.join(out, name, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": {"content": "<s>"}, "eos_token": "</s>", "unk_token": "<unk>",
                   "add_bos_token": True, "chat_template": [{"name": "default", "template": "{{ x }}"},
                                                            {"name": "tool_use", "template": "t"}]}, f)
    sp = spm.SentencePieceProcessor(model_proto=buf.getvalue())
    scores[name] = [sp.get_score(i) for i in range(sp.get_piece_size())]
    cases = []
    for text in TEXTS:
        ids = sp.encode(text)
        cases.append({"tokenizer": name, "text": text, "parse_special": False, "ids": ids,
                      "model_ids": [sp.bos_id()] + ids, "decoded": sp.decode(ids), "decoded_skip": sp.decode(ids)})
    return cases


def main():
    out = sys.argv[1]
    cases = []
    chatml = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    families = [("gpt2", ["<|endoftext|>"], True), ("llama3", ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"], False),
                ("qwen2", chatml, False), ("smollm2", chatml, True), ("mixed", chatml, False),
                ("inverted", ["<|endoftext|>"], True)]
    for name, specials, string_merges in families:
        tok = bpe_tokenizer(name, specials)
        tok_json = tok.to_str()
        if name == "llama3":
            tok_json = add_unreachable_word(tok_json)
            tok = Tokenizer.from_str(tok_json)
        config = {"eos_token": specials[-1], "bos_token": specials[0] if name == "llama3" else None,
                  "chat_template": "{{ messages }}"}
        save_hf(out, name, tok_json, config, string_merges)
        cases += hf_cases(name, tok)
    scores = {}  # unigram piece scores: sentencepiece versions may break exact Viterbi ties differently
    cases += sp_model("bpe", out, "sp_bpe", scores)
    cases += sp_model("unigram", out, "sp_unigram", scores)
    with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"cases": cases, "scores": scores}, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
