"""Seed corpora for the fuzz targets, written by other tools where the format has one:
GGUF by llama.cpp's `gguf` package, safetensors by the `safetensors` package, tokenizers by the
HF `tokenizers` package, a dataset by `slmify dataset import`, logs and pipelines from the repo.
Usage: make_seeds.py OUT_DIR SLMIFY_BINARY (scripts/fuzz runs it with the venv's Python)."""
import gzip
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

root = pathlib.Path(__file__).resolve().parent.parent
out = pathlib.Path(sys.argv[1])
slmify = sys.argv[2]


def put(target, name, data):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


formats = root / "examples" / "formats"
for f in sorted(formats.iterdir()):
    if f.suffix not in (".json", ".jsonl"):
        continue
    data = f.read_bytes()
    put("collect", f.name, data)
    if f.suffix == ".jsonl":
        for i, line in enumerate(data.splitlines()):
            put("import", f"{f.stem}-{i}", line)
    else:
        put("import", f.stem, data)
chat = (formats / "openai-chat.jsonl").read_bytes()
put("collect", "chat.jsonl.gz", gzip.compress(chat, mtime=0))
put("collect", "chat.jsonl.zst", subprocess.run(["zstd", "-q", "-c"], input=chat, stdout=subprocess.PIPE, check=True).stdout)

for p in sorted((root / "pipelines").glob("*.yaml")):
    put("config", p.name, p.read_bytes())

with tempfile.TemporaryDirectory() as tmp:
    ds = pathlib.Path(tmp) / "ds"
    subprocess.run([slmify, "-q", "dataset", "import", str(root / "examples" / "records" / "sample.jsonl"), "-o", str(ds)], check=True)
    put("dataset", "sample", (ds / "manifest.json").read_bytes() + b"\0" + (ds / "part-00000.jsonl.zst").read_bytes())

import gguf  # noqa: E402  (llama.cpp's reader and writer)

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "seed.gguf")
    w = gguf.GGUFWriter(path, "llama")
    w.add_uint32("llama.context_length", 64)
    w.add_float32("llama.rope.freq_base", 10000.0)
    w.add_bool("general.flag", True)
    w.add_string("general.name", "fuzz seed")
    w.add_array("tokenizer.ggml.tokens", ["a", "b", "<s>"])
    w.add_array("general.nested", [[1, 2], [3]])
    rng = np.random.default_rng(0)
    w.add_tensor("f32", rng.standard_normal((2, 32), dtype=np.float32))
    w.add_tensor("f16", rng.standard_normal((2, 32)).astype(np.float16))
    q = gguf.quants.quantize(rng.standard_normal((2, 64), dtype=np.float32), gguf.GGMLQuantizationType.Q8_0)
    w.add_tensor("q8", q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    put("gguf", "seed.gguf", pathlib.Path(path).read_bytes())

from safetensors.numpy import save  # noqa: E402

put("safetensors", "seed.safetensors", save({"w": np.arange(12, dtype=np.float32).reshape(3, 4),
                                             "b": np.zeros(3, dtype=np.float16)}, metadata={"format": "pt"}))

from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers  # noqa: E402

texts = ["Hello, world!", "The capital of France is Paris.", "café 東京 123", "<|im_start|>user\nhi<|im_end|>"]
bpe = Tokenizer(models.BPE())
bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
bpe.decoder = decoders.ByteLevel()
bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=300, special_tokens=["<|im_start|>", "<|im_end|>"],
                                                   initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
put("tokenizer", "bpe.json", bpe.to_str())
wp = Tokenizer(models.WordPiece(unk_token="[UNK]"))
wp.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
wp.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=200, special_tokens=["[UNK]", "[CLS]", "[SEP]"]))
put("tokenizer", "wordpiece.json", wp.to_str())
