#!/usr/bin/env python3
"""Makes the "seen" model of tests/select/test_select.cpp's probe test: a copy of MODEL_DIR trained
briefly by transformers on the calls in TRAIN.json (dataset records), each rendered with the
model's own chat template (tools included) as the LLM answered it.

Usage: select_seen_reference.py MODEL_DIR TRAIN.json OUT_DIR. Seeded; CPU; about 10 s.
"""
import json
import shutil
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def conversation(rec):
    messages = list(rec["request"]["messages"])
    r = rec["response"]
    answer = {"role": "assistant", "content": r.get("content") or ""}
    if r.get("tool_calls"):
        answer["tool_calls"] = [{"type": "function", "function": {"name": c["function"]["name"],
                                                                  "arguments": json.loads(c["function"]["arguments"])}}
                                for c in r["tool_calls"]]
    messages.append(answer)
    return messages, rec["request"].get("tools") or None


def main():
    src, train_file, out = sys.argv[1], sys.argv[2], sys.argv[3]
    torch.manual_seed(0)
    shutil.copytree(src, out)
    tok = AutoTokenizer.from_pretrained(src)
    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)
    texts = []
    for rec in json.load(open(train_file)):
        messages, tools = conversation(rec)
        texts.append(tok.apply_chat_template(messages, tools=tools, tokenize=False))
    batches = [tok.encode(t, add_special_tokens=False) for t in texts]
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(150):
        ids = torch.tensor([batches[step % len(batches)]])
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.3f}", file=sys.stderr)
    model.save_pretrained(out, safe_serialization=True)


if __name__ == "__main__":
    main()
