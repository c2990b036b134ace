"""References for tests/model/test_gguf.cpp, from the `gguf` package (llama.cpp's own Python reader
and writer) and transformers' GGUF loading. Every random draw is seeded.

  gguf_reference.py meta OUT.gguf OUT.json
      a v3 file (alignment 64) with a metadata entry of every value type, arrays of every element
      type, nested arrays, and F32/F16 tensors; OUT.json holds what was written: {metadata: {key:
      {type, value}}, tensors: [{name, shape, type, values}]}
  gguf_reference.py quants OUT.gguf OUT_DIR
      one [4, 512] tensor per type: quantised by gguf.quants.quantize where it can, otherwise
      seeded random blocks with finite f16 scales; OUT_DIR/<TYPE>.f32 is gguf.quants.dequantize
      of the same bytes (raw float32); plus a Q2_K tensor that slmify must refuse by name.
  gguf_reference.py model GGUF IMPORTED_DIR OUT.json
      transformers on the GGUF itself vs transformers on slmify's imported directory: token ids of
      a varied corpus (AutoTokenizer on the GGUF), max logit difference relative to the logit
      scale, and greedy continuations of both.
  gguf_reference.py tiny qwen2|llama OUT.gguf OUT.json
      a tiny random qwen2 model with a byte-level BPE vocabulary (pre-tokenizer qwen2, untied, q/k/v
      biases) or llama model with a sentencepiece vocabulary (q/k rows permuted as llama.cpp's
      converter does), tensors in F32/F16/BF16/Q8_0/Q4_0/Q5_1; OUT.json: sentencepiece's own ids.
  gguf_reference.py tiny-compare GGUF IMPORTED_DIR OUT.json
      as `model`, for the tiny files, plus the imported tokenizer.json's ids in transformers.
"""
import json
import os
import sys

import numpy as np

import gguf
from gguf import GGMLQuantizationType as Q
from gguf import GGUFValueType as V


def write_meta(path, out_json):
    rng = np.random.default_rng(20240601)
    w = gguf.GGUFWriter(path, "llama")
    w.add_custom_alignment(64)
    meta = {"general.architecture": {"type": "STRING", "value": "llama"},
            "general.alignment": {"type": "UINT32", "value": 64}}

    def kv(key, value, vtype, sub=None):
        w.add_key_value(key, value, vtype, sub_type=sub)
        meta[key] = {"type": vtype.name, "value": value}

    kv("t.u8", 250, V.UINT8)
    kv("t.i8", -120, V.INT8)
    kv("t.u16", 65000, V.UINT16)
    kv("t.i16", -32000, V.INT16)
    kv("t.u32", 4000000000, V.UINT32)
    kv("t.i32", -2000000000, V.INT32)
    kv("t.f32", 0.15625, V.FLOAT32)
    kv("t.bool", True, V.BOOL)
    kv("t.str", "héllo, 世界 🙂", V.STRING)
    kv("t.u64", 18446744073709551000, V.UINT64)
    kv("t.i64", -9000000000000000000, V.INT64)
    kv("t.f64", -1.0e300, V.FLOAT64)
    kv("t.empty_str", "", V.STRING)
    for sub, vals in [(V.UINT8, [0, 255]), (V.INT8, [-128, 127]), (V.UINT16, [1, 65535]), (V.INT16, [-1, 2]),
                      (V.UINT32, [7, 4294967295]), (V.INT32, [-7, 8, 9]), (V.FLOAT32, [0.5, -2.25]),
                      (V.BOOL, [True, False, True]), (V.STRING, ["a", "", "ccc"]), (V.UINT64, [2**64 - 1]),
                      (V.INT64, [-(2**63)]), (V.FLOAT64, [1e-300, 2.5])]:
        kv("a." + sub.name.lower(), vals, V.ARRAY, sub)
    kv("a.nested", [[1, 2], [3], [4, 5, 6]], V.ARRAY)
    kv("a.nested_str", [["x", "y"], ["z"]], V.ARRAY)
    kv("a.deep", [[[1.5], [2.5, 3.5]], [[4.5]]], V.ARRAY)
    tensors = []
    for name, shape, dtype in [("w.f32", (3, 5), np.float32), ("w.f16", (2, 4, 6), np.float16), ("b.f32", (7,), np.float32)]:
        x = (rng.standard_normal(shape) * 3).astype(dtype)
        w.add_tensor(name, x)
        tensors.append({"name": name, "shape": list(shape), "type": "F32" if dtype == np.float32 else "F16",
                        "values": x.astype(np.float32).ravel().tolist()})
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with open(out_json, "w") as f:
        json.dump({"metadata": meta, "tensors": tensors}, f)


# Offsets of the f16 scales in each block, for random blocks that must stay finite.
SCALES = {Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q5_0: [0], Q.Q5_1: [0, 2], Q.Q8_0: [0], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2],
          Q.Q6_K: [208], Q.Q2_K: [80, 82]}
TYPES = [Q.F32, Q.F16, Q.BF16, Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q4_K, Q.Q5_K, Q.Q6_K]


def random_blocks(rng, qtype, rows, cols):
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    b = rng.integers(0, 256, size=(rows, cols // block, size), dtype=np.uint8)
    for off in SCALES[qtype]:
        scale = (rng.standard_normal((rows, cols // block)) * 0.05).astype(np.float16)
        b[:, :, off:off + 2] = scale.view(np.uint8).reshape(rows, cols // block, 2)
    return b.reshape(rows, -1)


def write_quants(path, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    w = gguf.GGUFWriter(path, "llama")
    rows, cols = 4, 512
    how = {}
    for k, qtype in enumerate(TYPES + [Q.Q2_K]):
        rng = np.random.default_rng(1000 + k)
        data = (rng.standard_normal((rows, cols)) * rng.uniform(0.01, 2.0, size=(rows, 1))).astype(np.float32)
        data[0, :7] = [0.0, -0.0, 1e-8, -65504.0 / 70000, 3.0, -3.0, 0.5]  # zeros, tiny and round values
        if qtype == Q.F32:
            w.add_tensor(qtype.name, data)
            raw = data.view(np.uint8)
        elif qtype == Q.F16:
            w.add_tensor(qtype.name, data.astype(np.float16))
            raw = data.astype(np.float16).view(np.uint8)
        else:
            try:
                raw = gguf.quants.quantize(data, qtype)
                how[qtype.name] = "quantize"
            except NotImplementedError:
                raw = random_blocks(rng, qtype, rows, cols)
                how[qtype.name] = "random blocks"
            w.add_tensor(qtype.name, raw, raw_dtype=qtype)
        if qtype != Q.Q2_K:
            deq = gguf.quants.dequantize(raw, qtype).astype(np.float32)
            assert deq.shape == (rows, cols), (qtype, deq.shape)
            deq.tofile(os.path.join(out_dir, qtype.name + ".f32"))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(json.dumps(how))


CORPUS = [
    "The quick brown fox jumps over the lazy dog. It's what they'll say, isn't it? We've seen it, I'm sure.",
    "def encode(text: str) -> list[int]:\n    return [ord(c) for c in text if c != ' ']\n",
    "for (int i = 0; i < 1024; ++i) { sum += values[i] * 3.14159; }\r\n",
    "Prices rose 12.5% in 2023 to $1,299,999 and 42 units; call 555-0100 before 9:30.",
    "Unicode: café, naïve, Ærøskøbing, Straße, Ελληνικά, русский текст, עברית, العربية.",
    "日本語のテキストと中文文本，还有한국어 텍스트。 Emoji: 🙂🚀👍🏽 and flags 🇫🇷.",
    "Whitespace   runs\t\ttabs\n\n\nnewlines   \n  trailing spaces   ",
    "JSON: {\"name\": \"slmify\", \"version\": [0, 1, 0], \"ok\": true, \"ratio\": 0.875, \"nested\": {\"a\": null}}",
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "HELLO WORLD, SHE'LL GO; THEY'RE HERE. Don't, won't, can't, shouldn't've.",
    "    indented\n        more\n\ttabbed\n",
    "",
    " leading space",
    "x" * 300 + " " + "ab" * 50,
    "https://example.com/path?q=1&r=2#frag user@example.org 192.168.0.1",
    "Mixed123numbers456 and 7-8-9, 3.14e-10, 0x1F, 1_000_000",
]


def compare_model(gguf_path, imported, out_json):
    import time

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    folder, name = os.path.split(os.path.abspath(gguf_path))
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    ids = [tok.encode(t, add_special_tokens=False) for t in CORPUS]
    t0 = time.time()
    ref = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
    t_ref = time.time() - t0
    ours = AutoModelForCausalLM.from_pretrained(imported, dtype=torch.float32).eval()
    worst = 0.0
    greedy = []
    with torch.no_grad():
        for k, p in enumerate([CORPUS[8], CORPUS[1], CORPUS[7], CORPUS[4]]):  # chat, code, JSON, Unicode
            x = torch.tensor([tok.encode(p, add_special_tokens=True)])
            a, b = ref(x).logits, ours(x).logits
            worst = max(worst, float((a - b).abs().max() / a.abs().max()))
            if k < 1:  # greedy continuations: a decode step costs ~0.5 s on two cores
                ga = ref.generate(x, max_new_tokens=10, do_sample=False, pad_token_id=tok.pad_token_id)[0, x.shape[1]:].tolist()
                gb = ours.generate(x, max_new_tokens=10, do_sample=False, pad_token_id=tok.pad_token_id)[0, x.shape[1]:].tolist()
                greedy.append({"prompt": p, "gguf": ga, "imported": gb, "text": tok.decode(ga)})
        # What `slmify generate --prompt` must produce on the imported directory: the chat template
        # rendered by transformers, then greedy decoding on the GGUF.
        messages = [{"role": "user", "content": "What is the capital of France?"}]
        chat_text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        x = torch.tensor([tok.encode(chat_text, add_special_tokens=False)])
        chat = ref.generate(x, max_new_tokens=12, do_sample=False, pad_token_id=tok.pad_token_id)[0, x.shape[1]:].tolist()
    with open(out_json, "w") as f:
        json.dump({"corpus": CORPUS, "ids": ids, "max_rel_logit_diff": worst, "greedy": greedy,
                   "chat": {"prompt_ids": x[0].tolist(), "tokens": chat, "text": tok.decode(chat)},
                   "transformers_gguf_load_seconds": t_ref}, f)


def permute_like_llama_cpp(w, n_head):
    """What llama.cpp's converter does to Llama q/k rows: within each head, interleave the two halves."""
    rows = w.shape[0]
    return w.reshape(n_head, 2, rows // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def tiny_tokenizer(w, kind):
    """A small vocabulary: byte-level BPE trained with HF tokenizers (gpt2) or sentencepiece BPE (llama)."""
    if kind == "gpt2":
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        tok.train_from_iterator(CORPUS * 4, trainer)
        j = json.loads(tok.to_str())
        vocab = sorted(j["model"]["vocab"].items(), key=lambda kv: kv[1])
        tokens = [t for t, _ in vocab]
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("qwen2")
        w.add_token_list(tokens)
        w.add_token_types([3 if t.startswith("<|") else 1 for t in tokens])
        w.add_token_merges([" ".join(m) if isinstance(m, list) else m for m in j["model"]["merges"]])
        w.add_bos_token_id(0), w.add_eos_token_id(2), w.add_pad_token_id(0)
        return len(tokens), None
    import io
    import sentencepiece as spm
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(CORPUS * 4), model_writer=model, vocab_size=700, model_type="bpe",
                                   byte_fallback=True, character_coverage=1.0, num_threads=1, unk_id=0, bos_id=1, eos_id=2,
                                   pad_id=-1, add_dummy_prefix=True, remove_extra_whitespaces=False,
                                   normalization_rule_name="identity", split_digits=True, allow_whitespace_only_pieces=True,
                                   hard_vocab_limit=False, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    n = sp.get_piece_size()
    kinds = [2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 6 if sp.is_byte(i) else 1 for i in range(n)]
    w.add_tokenizer_model("llama")
    w.add_token_list([sp.id_to_piece(i) for i in range(n)])
    w.add_token_scores([sp.get_score(i) for i in range(n)])
    w.add_token_types(kinds)
    w.add_bos_token_id(1), w.add_eos_token_id(2), w.add_unk_token_id(0)
    w.add_add_bos_token(True), w.add_add_space_prefix(True)
    return n, sp


def write_tiny(arch, path, ids_json):
    """A tiny random model of `arch` (qwen2 with a byte-level vocabulary, or llama with a sentencepiece
    one), its tensors in a mix of types, written as llama.cpp's converter would."""
    rng = np.random.default_rng(77 if arch == "qwen2" else 78)
    w = gguf.GGUFWriter(path, arch)
    vocab, sp = tiny_tokenizer(w, "gpt2" if arch == "qwen2" else "llama")
    hidden, inter, layers, heads, kv = 64, 128, 2, 4, 2
    head_dim = hidden // heads
    w.add_context_length(256), w.add_embedding_length(hidden), w.add_feed_forward_length(inter)
    w.add_block_count(layers), w.add_head_count(heads), w.add_head_count_kv(kv)
    w.add_rope_freq_base(10000.0 if arch == "llama" else 1000000.0), w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_dimension_count(head_dim)
    types = [Q.F32, Q.F16, Q.Q8_0, Q.Q4_0, Q.Q5_1, Q.BF16]

    def weight(name, shape, k, permute_heads=None):
        x = (rng.standard_normal(shape) * 0.2).astype(np.float32)
        if permute_heads:
            x = permute_like_llama_cpp(x, permute_heads)
        qtype = types[k % len(types)] if len(shape) == 2 else Q.F32
        if qtype == Q.F32:
            w.add_tensor(name, x)
        elif qtype == Q.F16:
            w.add_tensor(name, x.astype(np.float16))
        else:
            w.add_tensor(name, gguf.quants.quantize(x, qtype), raw_dtype=qtype)

    weight("token_embd.weight", (vocab, hidden), 2)
    for i in range(layers):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", (1 + 0.1 * rng.standard_normal(hidden)).astype(np.float32))
        weight(p + "attn_q.weight", (heads * head_dim, hidden), i, heads if arch == "llama" else None)
        weight(p + "attn_k.weight", (kv * head_dim, hidden), i + 1, kv if arch == "llama" else None)
        weight(p + "attn_v.weight", (kv * head_dim, hidden), i + 2)
        if arch == "qwen2":
            for b, n in (("attn_q.bias", heads * head_dim), ("attn_k.bias", kv * head_dim), ("attn_v.bias", kv * head_dim)):
                weight(p + b, (n,), 0)
        weight(p + "attn_output.weight", (hidden, heads * head_dim), i + 3)
        w.add_tensor(p + "ffn_norm.weight", (1 + 0.1 * rng.standard_normal(hidden)).astype(np.float32))
        weight(p + "ffn_gate.weight", (inter, hidden), i + 4)
        weight(p + "ffn_up.weight", (inter, hidden), i + 5)
        weight(p + "ffn_down.weight", (hidden, inter), i)
    w.add_tensor("output_norm.weight", np.ones(hidden, dtype=np.float32))
    if arch == "qwen2":
        weight("output.weight", (vocab, hidden), 1)  # untied
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with open(ids_json, "w") as f:  # what sentencepiece itself makes of the corpus
        json.dump({"corpus": CORPUS, "sentencepiece": [sp.encode(t) for t in CORPUS] if sp else None}, f)


def compare_tiny(gguf_path, imported, out_json):
    """transformers on the GGUF vs transformers on the imported directory: logits, greedy tokens, and
    the imported tokenizer.json's ids (PreTrainedTokenizerFast) next to AutoTokenizer on the GGUF."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    folder, name = os.path.split(os.path.abspath(gguf_path))
    tok_gguf = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    tok_dir = AutoTokenizer.from_pretrained(imported)
    ref = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
    ours = AutoModelForCausalLM.from_pretrained(imported, dtype=torch.float32).eval()
    worst, greedy = 0.0, []
    with torch.no_grad():
        for p in [CORPUS[0], CORPUS[5]]:
            x = torch.tensor([tok_gguf.encode(p, add_special_tokens=True)])
            a, b = ref(x).logits, ours(x).logits
            worst = max(worst, float((a - b).abs().max() / a.abs().max()))
            greedy.append([m.generate(x, max_new_tokens=8, do_sample=False, pad_token_id=0)[0].tolist() for m in (ref, ours)])
    with open(out_json, "w") as f:
        json.dump({"gguf_ids": [tok_gguf.encode(t, add_special_tokens=False) for t in CORPUS],
                   "dir_ids": [tok_dir.encode(t, add_special_tokens=False) for t in CORPUS],
                   "max_rel_logit_diff": worst, "greedy": greedy}, f)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "meta":
        write_meta(sys.argv[2], sys.argv[3])
    elif cmd == "quants":
        write_quants(sys.argv[2], sys.argv[3])
    elif cmd == "model":
        compare_model(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "tiny":
        write_tiny(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "tiny-compare":
        compare_tiny(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit("usage: gguf_reference.py meta|quants|model ...")
