#!/usr/bin/env python3
"""HF PEFT + transformers LoRA training speed on the model bench_train wrote (same shape, same
sequences of random tokens, same LoRA: r=16 on all linear layers, fp32 adapters over a frozen bf16
or fp32 base, AdamW, no dropout). Prints tokens/s for comparison with slmify's trainer.
Usage: peft_train_bench.py MODEL_DIR SEQ STEPS BATCH DEVICE
"""
import sys
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM


def main():
    model_dir, seq, steps, batch, device = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    torch.set_num_threads(torch.get_num_threads())
    for name, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation="sdpa").to(device)
        cfg = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
        model = get_peft_model(model, cfg)  # adapters in fp32 (autocast_adapter_dtype)
        model.train()
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
        g = torch.Generator().manual_seed(3)
        times = []
        for step in range(steps + 1):
            ids = torch.randint(1, 49000, (batch, seq), generator=g).to(device)
            labels = ids.clone()
            labels[:, : seq // 2] = -100
            t = time.perf_counter()
            loss = model(input_ids=ids, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad()
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t)
        secs = sum(times[1:])
        print("HF PEFT %s base: %.0f tokens/s (transformers %s, peft %s, torch %s)" % (
            name, batch * seq * steps / secs, __import__("transformers").__version__, __import__("peft").__version__, torch.__version__),
            flush=True)


if __name__ == "__main__":
    main()
