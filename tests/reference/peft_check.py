#!/usr/bin/env python3
"""Independent check of adapters and merged checkpoints slmify writes, by HF PEFT and transformers.

Usage: peft_check.py BASE_DIR ADAPTER_DIR MERGED_DIR IDS_JSON OUT_JSON
Loads BASE_DIR with transformers, applies ADAPTER_DIR with PeftModel.from_pretrained (which fails on
non-standard keys or shapes), and writes the fp32 logits for the token ids in IDS_JSON; also the
logits of MERGED_DIR loaded as a plain transformers model, and what PEFT read from the config.
"""
import json
import sys

import torch
from peft import PeftConfig, PeftModel
from transformers import AutoModelForCausalLM


def main():
    base_dir, adapter_dir, merged_dir, ids_file, out_file = sys.argv[1:6]
    ids = torch.tensor([json.load(open(ids_file))])
    base = AutoModelForCausalLM.from_pretrained(base_dir, torch_dtype=torch.float32).eval()
    cfg = PeftConfig.from_pretrained(adapter_dir)
    model = PeftModel.from_pretrained(base, adapter_dir).eval()
    loaded = sum(1 for n, _ in model.named_parameters() if "lora_" in n)
    out = {"r": cfg.r, "lora_alpha": cfg.lora_alpha, "target_modules": sorted(cfg.target_modules), "lora_tensors": loaded}
    with torch.no_grad():
        out["logits_adapter"] = model(ids).logits[0].flatten().tolist()
        merged = AutoModelForCausalLM.from_pretrained(merged_dir, torch_dtype=torch.float32).eval()
        out["logits_merged"] = merged(ids).logits[0].flatten().tolist()
    json.dump(out, open(out_file, "w"))


if __name__ == "__main__":
    main()
