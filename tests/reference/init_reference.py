#!/usr/bin/env python3
"""What transformers makes of a model written by `slmify model init`, for tests/model/test_model_init.cpp.

Usage: init_reference.py MODEL_DIR OUT.json. Loads the directory with AutoTokenizer and
AutoModelForCausalLM (no conversion, no network) and records: ids of a few texts (plain and with
special tokens), the chat template rendered for conversations with and without tools, the ids
of that rendering, and the greedy continuation of it.
"""
import json
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

TOOLS = [{"type": "function", "function": {"name": "lookup_order", "description": "Find an order by id",
                                           "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}},
                                                          "required": ["order_id"]}}}]
CONVERSATIONS = [
    [{"role": "system", "content": "You route support tickets."}, {"role": "user", "content": "My parcel never arrived."}],
    [{"role": "user", "content": "Summarise: the meeting moved to 3pm."}],
    [{"role": "system", "content": "You are an order assistant."}, {"role": "user", "content": "Where is order 1234?"},
     {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "lookup_order", "arguments": {"order_id": "1234"}}}]},
     {"role": "tool", "content": "{\"status\": \"shipped\"}"}],
]
TEXTS = ["Hello world", "  two  spaces and\ttabs\n", "order 12345 ships 2026-11-30", "ünïcödé ✓ 日本語",
         "<|im_start|>user\nhi<|im_end|>"]


def main():
    d, out = sys.argv[1], sys.argv[2]
    tok = AutoTokenizer.from_pretrained(d)
    model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
    rec = {"texts": TEXTS, "ids": [tok.encode(t, add_special_tokens=False) for t in TEXTS],
           "ids_bos": [tok.encode(t) for t in TEXTS], "chats": []}
    for conv in CONVERSATIONS:
        has_tools = any(m.get("tool_calls") or m["role"] == "tool" for m in conv)
        text = tok.apply_chat_template(conv, tools=TOOLS if has_tools else None, tokenize=False, add_generation_prompt=True)
        ids = tok.encode(text, add_special_tokens=False)
        with torch.no_grad():
            gen = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                 max_new_tokens=12, do_sample=False)
        rec["chats"].append({"messages": conv, "tools": TOOLS if has_tools else None, "text": text, "ids": ids,
                             "greedy": gen[0, len(ids):].tolist()})
    with open(out, "w") as f:
        json.dump(rec, f)


if __name__ == "__main__":
    main()
