#!/usr/bin/env python3
"""ROUGE-L and chrF of text pairs by the reference packages, for tests/eval/test_metrics.cpp:
rouge-score's RougeScorer(["rougeL"]) without stemming (F-measure) and sacrebleu's CHRF()
sentence score (character 6-grams, beta 2, whitespace removed) divided by 100. Both packages are
pinned in scripts/requirements.txt. Usage: metrics_reference.py OUT_DIR (writes
OUT_DIR/expected.json). Deterministic; well under a second."""
import json
import os
import sys

try:
    from rouge_score import rouge_scorer
    from sacrebleu.metrics import CHRF
except ImportError:
    sys.exit("metrics_reference.py: rouge-score and sacrebleu are not installed; "
             "run .venv/bin/pip install -r scripts/requirements.txt")

# (prediction, reference): agent-like answers, edge cases of tokenisation, and orders of magnitude
# of length. ROUGE-L pairs are ASCII: rouge-score drops non-ASCII letters (slmify keeps them).
PAIRS = [
    ("police kill the gunman", "police killed the gunman"),
    ("the gunman kill police", "police killed the gunman"),
    ("The parcel arrived late and the box was broken.", "The parcel was late; the box arrived broken!"),
    ("Refund approved for order 12345.", "Refund approved for order 12345."),
    ("Refund approved for order 12345.", "Refund denied: order 54321 is older than 30 days."),
    ("completely different words here", "nothing in common at all"),
    ("a a a a b", "a b a b a b"),
    ("Don't STOP-now, it's 3.14 percent", "dont stop now its 3 14 percent"),
    ("SELECT count(*) FROM orders WHERE status = 'late';", "SELECT count(*) FROM orders WHERE status='late' AND total > 10;"),
    ('{"queue": "billing", "priority": 2}', '{"priority": 2, "queue": "shipping"}'),
    ("x", "xy"),
    ("ab", "abc"),
    ("abc def", "abcdef"),
    ("The customer says the charger is broken. Next step: send a replacement.",
     "The customer reports a broken charger and wants a replacement. Next step: ship one today."),
    ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen",
     "fifteen fourteen thirteen twelve eleven ten nine eight seven six five four three two one"),
    ("Bonjour, merci pour votre message concernant la livraison.", "Bonjour, merci de votre message au sujet de la livraison."),
]
# chrF only: non-ASCII text, tabs and newlines, an empty side.
CHRF_PAIRS = [
    ("Café über naïve résumé", "Cafe uber naive resume"),
    ("日本語のテキスト", "日本語テキストです"),
    ("line one\n\tline two", "line one line two"),
    ("", "something"),
    ("emoji 👍🏽 ok", "emoji 👍 ok"),
]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rouge = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    chrf = CHRF()
    rows = []
    for pred, ref in PAIRS:
        rows.append({"pred": pred, "ref": ref, "rouge_l": rouge.score(ref, pred)["rougeL"].fmeasure,
                     "chrf": chrf.sentence_score(pred, [ref]).score / 100})
    for pred, ref in CHRF_PAIRS:
        rows.append({"pred": pred, "ref": ref, "chrf": chrf.sentence_score(pred, [ref]).score / 100})
    with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(rows, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
