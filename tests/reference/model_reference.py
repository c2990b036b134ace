#!/usr/bin/env python3
"""Reference outputs for tests/model/test_transformer.cpp, made by transformers itself.

Builds tiny random models of every architecture slmify supports with transformers' own classes,
saves them with save_pretrained (safetensors), and records transformers' logits (fp32 and bf16)
and greedy generations for fixed token ids. The C++ test loads the same directories and must
agree within stated tolerances. Usage: model_reference.py OUTDIR  (writes OUTDIR/<case>/...)
"""
import copy
import json
import os
import sys

import torch
import transformers
from peft import LoraConfig, get_peft_model
from transformers import (GemmaConfig, GemmaForCausalLM, LlamaConfig, LlamaForCausalLM, MistralConfig,
                          MistralForCausalLM, Phi3Config, Phi3ForCausalLM, Qwen2Config, Qwen2ForCausalLM)

V = 256
COMMON = dict(vocab_size=V, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
              max_position_embeddings=256, bos_token_id=1, eos_token_id=V - 1, pad_token_id=0)

CASES = {
    # GQA, untied, default RoPE
    "llama": (LlamaConfig, LlamaForCausalLM, dict(num_key_value_heads=2, tie_word_embeddings=False)),
    # llama3 RoPE scaling (original length small enough that all three bands occur), explicit head_dim
    # different from hidden/heads, tied embeddings, biases on attention and MLP
    "llama3": (LlamaConfig, LlamaForCausalLM, dict(
        num_key_value_heads=1, head_dim=32, tie_word_embeddings=True, attention_bias=True, mlp_bias=True,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 64}, rope_theta=500000.0)),
    # sliding window shorter than the test sequence
    "mistral": (MistralConfig, MistralForCausalLM, dict(num_key_value_heads=2, sliding_window=8, tie_word_embeddings=False)),
    # q/k/v biases, tied, large rope_theta
    "qwen2": (Qwen2Config, Qwen2ForCausalLM, dict(num_key_value_heads=2, tie_word_embeddings=True, rope_theta=1000000.0)),
    # fused qkv_proj and gate_up_proj
    "phi3": (Phi3Config, Phi3ForCausalLM, dict(num_key_value_heads=2, tie_word_embeddings=False, sliding_window=None)),
    # (1+w) RMSNorm, sqrt(hidden) embedding scale, tanh GELU, head_dim 32, one KV head
    "gemma": (GemmaConfig, GemmaForCausalLM, dict(num_key_value_heads=1, head_dim=32, hidden_activation="gelu_pytorch_tanh")),
}

# PEFT LoRA adapters (random, non-zero B) whose merged logits the C++ side must reproduce.
ADAPTERS = {
    "llama": dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"]),
    "phi3": dict(r=8, lora_alpha=16, use_rslora=True, target_modules=["qkv_proj", "gate_up_proj", "o_proj"]),
}


def randomise(model, seed):
    """Weights large enough that logits and greedy choices are far from ties."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                base = 0.0 if isinstance(model, GemmaForCausalLM) else 1.0
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.08 * torch.randn(p.shape, generator=g))


def main():
    out = sys.argv[1]
    torch.manual_seed(0)
    ids = torch.randint(3, V - 1, (1, 24), generator=torch.Generator().manual_seed(7))
    summary = {"transformers": transformers.__version__, "torch": torch.__version__, "cases": []}
    for i, (name, (cfg_cls, model_cls, kw)) in enumerate(CASES.items()):
        cfg = cfg_cls(**COMMON, **kw)
        model = model_cls(cfg).eval()
        randomise(model, 100 + i)
        d = os.path.join(out, name)
        model.save_pretrained(d)
        rec = {"name": name, "ids": ids[0].tolist()}
        with torch.no_grad():
            rec["logits_fp32"] = model(ids).logits[0].flatten().tolist()
            gen = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, do_sample=False,
                                 pad_token_id=0, eos_token_id=V - 1)
            rec["greedy_fp32"] = gen[0, ids.shape[1]:].tolist()
            mb = copy.deepcopy(model).to(torch.bfloat16)
            rec["logits_bf16"] = mb(ids).logits[0].float().flatten().tolist()
        if name in ADAPTERS:
            peft_model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", init_lora_weights=False, **ADAPTERS[name]))
            torch.manual_seed(3)
            with torch.no_grad():
                for n, p in peft_model.named_parameters():
                    if "lora_" in n:
                        p.copy_(0.2 * torch.randn(p.shape))
                peft_model.save_pretrained(os.path.join(out, name + "-adapter"))
                rec["logits_adapter"] = peft_model(ids).logits[0].flatten().tolist()
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump(rec, f)
        summary["cases"].append(name)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f)


if __name__ == "__main__":
    main()
