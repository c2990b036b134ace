"""Expected chat renderings for tests/model/test_chat_template.cpp: every conversation below rendered
through the real Jinja chat templates in tests/fixtures/chat_templates/ by transformers' own
render_jinja_template (what apply_chat_template(tokenize=False) runs), written as JSON.

    chat_reference.py FIXTURES_DIR OUT.json

Inputs are given to the templates the way transformers expects them (documented in
docs/chat-templates.md, "How it is tested"): tool-call arguments parsed from their JSON strings,
null content as "", an empty tools list as none, and object keys in slmify's canonical order, except
a tool call's arguments, which keep the order of their JSON text (Mistral's: canonical). Where
slmify deliberately differs from a template, the expected text is built from the real template's
own output as that section of the docs says (Gemma's folded system prompt, Mistral's system prompt
in the last user turn and 9-character call ids).
"""

import copy
import hashlib
import json
import sys
from pathlib import Path

from transformers.utils.chat_template_utils import render_jinja_template

# ---------------------------------------------------------------- conversations (OpenAI-style logs)

WEATHER = {"type": "function", "function": {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name, e.g. Paris"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"}},
        "required": ["city"]}}}
SEARCH = {"type": "function", "function": {
    "name": "search_docs",
    "description": "Search the documentation.",
    "parameters": {"type": "object", "properties": {
        "query": {"type": "string", "description": "What to look for"},
        "limit": {"type": "integer", "description": "  At most this many hits  "},
        "score": {"type": "number", "description": "Minimum score"},
        "exact": {"type": "boolean", "description": "Exact match only"},
        "tags": {"type": "array", "items": {"type": "string"}, "description": "Tags to filter on"},
        "filters": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Field filters"}},
        "required": ["query"]}}}
TOOLS = [WEATHER, SEARCH]

SYS = {"role": "system", "content": "You are a terse assistant for the ops team."}


def call(cid, name, args):
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


CONVERSATIONS = {
    "basic": ([{"role": "user", "content": "What is 2+2?"},
               {"role": "assistant", "content": "4"}], None, False),
    "system": ([SYS, {"role": "user", "content": "Restart the web tier?"},
                {"role": "assistant", "content": "Yes: run `deploy restart web`."}], None, False),
    "multi_turn": ([SYS, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."},
                    {"role": "user", "content": "And the database?"},
                    {"role": "assistant", "content": "Leave it running."}], None, False),
    "gen_prompt": ([SYS, {"role": "user", "content": "One"}, {"role": "assistant", "content": "Two"},
                    {"role": "user", "content": "Three?"}], None, True),
    "unicode": ([{"role": "system", "content": "Réponds en français, s'il te plaît. 日本語も OK"},
                 {"role": "user", "content": "Grüße — \"quoted\", a\ttab, emoji 🎉, back\\slash"},
                 {"role": "assistant", "content": "  Bonjour ! 你好 🎉\n"}], None, False),
    "developer": ([{"role": "developer", "content": "Answer in one word."},
                   {"role": "user", "content": "Colour of the sky?"},
                   {"role": "assistant", "content": "Blue"}], None, False),
    "whitespace": ([{"role": "user", "content": "  padded question \n"},
                    {"role": "assistant", "content": "\n\npadded answer  "}], None, False),
    "tools_offered": ([SYS, {"role": "user", "content": "Say hello."},
                       {"role": "assistant", "content": "Hello!"}], TOOLS, False),
    "tool_call": ([SYS, {"role": "user", "content": "Weather in Paris?"},
                   {"role": "assistant", "content": None,
                    "tool_calls": [call("call_9f8e7d6c5b4a3f2e1d0c9b8a", "get_weather",
                                        "{\"city\":\"Paris\",\"unit\":\"celsius\"}")]},
                   {"role": "tool", "tool_call_id": "call_9f8e7d6c5b4a3f2e1d0c9b8a",
                    "content": "{\"temp\": 21, \"sky\": \"clear\"}"},
                   {"role": "assistant", "content": "21 °C and clear."}], TOOLS, False),
    "tool_call_gen": ([{"role": "user", "content": "Weather in Oslo?"},
                       {"role": "assistant", "content": None,
                        "tool_calls": [call("abc123XYZ", "get_weather", "{\"city\": \"Oslo\"}")]},
                       {"role": "tool", "tool_call_id": "abc123XYZ", "content": "-3 and snowing"}], TOOLS, True),
    "parallel_calls": ([SYS, {"role": "user", "content": "Paris and Rome?"},
                        {"role": "assistant", "content": None, "tool_calls": [
                            call("call_A1", "get_weather", "{\"city\":\"Paris\"}"),
                            call("call_B2", "get_weather", "{\"city\":\"Rome\"}")]},
                        {"role": "tool", "tool_call_id": "call_A1", "content": "18"},
                        {"role": "tool", "tool_call_id": "call_B2", "content": "25"},
                        {"role": "assistant", "content": "Paris 18, Rome 25."}], TOOLS, False),
    "tool_call_with_content": ([{"role": "user", "content": "Find the runbook."},
                                {"role": "assistant", "content": "Let me search.",
                                 "tool_calls": [call("call_s1", "search_docs",
                                                     "{\"query\":\"runbook\",\"limit\":3}")]},
                                {"role": "tool", "tool_call_id": "call_s1", "content": "runbook.md"},
                                {"role": "assistant", "content": "It is runbook.md."}], TOOLS, False),
    "no_system_tools": ([{"role": "user", "content": "Weather in Lima?"},
                         {"role": "assistant", "content": "",
                          "tool_calls": [call("call_L", "get_weather", "{}")]},
                         {"role": "tool", "tool_call_id": "call_L", "content": "warm"},
                         {"role": "assistant", "content": "Warm."}], TOOLS, False),
    "nested_args": ([SYS, {"role": "user", "content": "Search it all."},
                     {"role": "assistant", "content": None, "tool_calls": [call(
                         "call_N", "search_docs",
                         "{\"query\":\"Zürich \\\"ops\\\" 🚀\",\"limit\":10,\"score\":0.00001,\"exact\":false,"
                         "\"tags\":[\"a\",\"b\"],\"filters\":{\"team\":\"sre\",\"k8s\":null},\"big\":1.5e16,"
                         "\"ratio\":2.5,\"whole\":3.0}")]},
                     {"role": "tool", "tool_call_id": "call_N", "content": "no hits"},
                     {"role": "assistant", "content": "Nothing found."}], TOOLS, False),
}
NO_TOOLS = [k for k, v in CONVERSATIONS.items() if v[1] is None]
WITH_TOOLS = [k for k, v in CONVERSATIONS.items() if v[1] is not None]

# ------------------------------------------- templates: fixture, slmify name, variables, conversations

TEMPLATES = [
    ("Qwen-Qwen2.5-7B-Instruct.jinja", "qwen2.5", {}, NO_TOOLS + WITH_TOOLS),
    ("Qwen-Qwen2-0.5B-Instruct.jinja", "qwen2", {}, NO_TOOLS),
    ("HuggingFaceTB-SmolLM2-135M-Instruct.jinja", "smollm2", {}, NO_TOOLS),
    ("NousResearch-Hermes-3-Llama-3.1-70B-default.jinja", "hermes", {"bos_token": "<|begin_of_text|>"}, NO_TOOLS),
    ("NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", "hermes", {"bos_token": "<|begin_of_text|>"}, WITH_TOOLS),
    ("meta-llama-Llama-2-7b-chat.jinja", "llama2", {"bos_token": "<s>", "eos_token": "</s>"}, NO_TOOLS),
    ("meta-llama-Meta-Llama-3-8B-Instruct.jinja", "llama3", {"bos_token": "<|begin_of_text|>"}, NO_TOOLS),
    ("meta-llama-Llama-3.1-8B-Instruct.jinja", "llama3.1",
     {"bos_token": "<|begin_of_text|>", "date_string": "26 Jul 2024"},
     [c for c in NO_TOOLS + WITH_TOOLS if c != "parallel_calls"]),
    ("meta-llama-Llama-3.2-3B-Instruct.jinja", "llama3.2",
     {"bos_token": "<|begin_of_text|>", "date_string": "26 Jul 2024"},
     [c for c in NO_TOOLS + WITH_TOOLS if c != "parallel_calls"]),
    ("mistralai-Mistral-7B-Instruct-v0.2.jinja", "mistral-v1", {"bos_token": "<s>", "eos_token": "</s>"}, NO_TOOLS),
    ("mistralai-Mistral-7B-Instruct-v0.3.jinja", "mistral-v3", {"bos_token": "<s>", "eos_token": "</s>"},
     NO_TOOLS + WITH_TOOLS),
    ("mistralai-Mistral-Nemo-Instruct-2407.jinja", "mistral-v3-tekken", {"bos_token": "<s>", "eos_token": "</s>"},
     NO_TOOLS + WITH_TOOLS),
    ("microsoft-Phi-3.5-mini-instruct.jinja", "phi3", {"eos_token": "<|endoftext|>"}, NO_TOOLS),
    ("microsoft-Phi-3-mini-4k-instruct.jinja", "phi3", {"eos_token": "<|endoftext|>"}, NO_TOOLS),
    ("google-gemma-2-2b-it.jinja", "gemma", {"bos_token": "<bos>"}, NO_TOOLS),
]

# ------------------------------------------------------------- the documented input conventions

FIRST_KEYS = ["type", "function", "name", "description", "parameters", "properties", "required", "arguments"]


def key_order(k):
    return (FIRST_KEYS.index(k), "") if k in FIRST_KEYS else (len(FIRST_KEYS), k.encode("utf-8"))


def canonical(x):
    """Objects with slmify's key order (lib/model/chat_render.h json_key_less), recursively."""
    if isinstance(x, dict):
        return {k: canonical(x[k]) for k in sorted(x, key=key_order)}
    if isinstance(x, list):
        return [canonical(v) for v in x]
    return x


def mistral_id(i):
    return i if len(i) == 9 else hashlib.sha256(i.encode()).hexdigest()[:9]


def prepare(messages, tools, name):
    msgs = []
    for m in copy.deepcopy(messages):
        if m["role"] == "developer":
            m["role"] = "system"
        if m.get("content") is None:
            m["content"] = ""
        if not m.get("tool_calls"):
            m.pop("tool_calls", None)
        args = []
        for c in m.get("tool_calls", []):
            c["function"]["arguments"] = json.loads(c["function"]["arguments"])
            args.append(c["function"]["arguments"])
            if name.startswith("mistral"):
                c["id"] = mistral_id(c["id"])
        if name.startswith("mistral") and "tool_call_id" in m:
            m["tool_call_id"] = mistral_id(m["tool_call_id"])
        m = canonical(m)
        if not name.startswith("mistral"):  # arguments keep the order the LLM wrote (json.loads keeps it)
            for c, a in zip(m.get("tool_calls", []), args):
                c["function"]["arguments"] = a
        msgs.append(m)
    return msgs, (canonical(tools) if tools else None)


def render(source, msgs, tools, gen, variables):
    out = render_jinja_template(conversations=[msgs], tools=tools, chat_template=source,
                                add_generation_prompt=gen, **variables)
    text = out[0] if isinstance(out, tuple) else out
    return text[0] if isinstance(text, list) else text


def expected(source, name, msgs, tools, gen, variables):
    if name == "gemma" and msgs[0]["role"] == "system":
        # slmify folds the system prompt into the first user turn (Gemma 3's convention).
        folded = copy.deepcopy(msgs[1:])
        folded[0]["content"] = msgs[0]["content"] + "\n\n" + folded[0]["content"]
        return render(source, folded, tools, gen, variables)
    if name.startswith("mistral-v3") and msgs[0]["role"] == "system":
        # slmify puts the system prompt in the last user turn even when replies follow it (as
        # mistral-common does); the template does so only when that turn is the last message.
        last_user = max(i for i, m in enumerate(msgs) if m["role"] == "user")
        if last_user != len(msgs) - 1:
            head = render(source, msgs[:last_user + 1], tools, False, variables)
            rest = msgs[1:]
            whole = render(source, rest, tools, gen, variables)
            before = render(source, rest[:last_user], tools, False, variables)
            assert whole.startswith(before), "rendering without a system prompt is not prefix-stable"
            return head + whole[len(before):]
    return render(source, msgs, tools, gen, variables)


def main():
    fixtures, out_path = Path(sys.argv[1]), Path(sys.argv[2])
    cases = []
    for fname, name, variables, conv_ids in TEMPLATES:
        source = (fixtures / fname).read_text(encoding="utf-8")
        for cid in conv_ids:
            messages, tools, gen = CONVERSATIONS[cid]
            msgs, tdefs = prepare(messages, tools, name)
            cases.append({"template": fname, "name": name, "conversation": cid, "messages": messages,
                          "tools": tools, "add_generation_prompt": gen,
                          "expected": expected(source, name, msgs, tdefs, gen, variables)})
    out_path.write_text(json.dumps({"cases": cases}, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
