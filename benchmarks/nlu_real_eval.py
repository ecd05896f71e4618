"""Intent, attribute, artist and critique F1 of the trained model on the hand-written test set.

    python benchmarks/nlu_real_eval.py [--model models/X.tar.gz] [--failures]
    python benchmarks/nlu_real_eval.py --write-rasa-yml   # tests/nlu/test_nlu.yml from it (intents)

The test set, ``tests/nlu/real_phrasing.txt``, is written by hand independently of the training
templates: user turns adapted from CPCD (Chaganty et al., SIGIR 2023, CC BY 4.0) and annotated into
the project's attributes, critiques of a played track, voice-style lowercase, typos and "the second
one". Each line is parsed by the whole pipeline (``Agent.parse_message``), and compared as values,
not spans:

- intent: accuracy, weighted and macro F1;
- attributes (genre family, energy, mood, era, activity): micro F1 over (attribute, value) pairs;
- artists: a named artist counts as found when the parse has it as a catalogue ``artist`` or as an
  ``unknown_mention`` (an honest "I don't have X"), by normalised name (fuzzy ratio >= 85);
- critiques: micro F1 over critique values (a critique found in a line without one is a false
  positive); option: accuracy on "the second one" lines.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEST_FILE = ROOT / "tests" / "nlu" / "real_phrasing.txt"
ATTRS = ("genre", "energy", "mood", "era", "activity")


def read_test_set(path: Path = TEST_FILE):
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(" | ")]
        if len(parts) != 4:
            raise ValueError(f"{path}:{n}: expected 'intent | annotations | text | source', got {line!r}")
        intent, notes, text, source = parts
        ann = []
        for item in filter(None, (x.strip() for x in notes.split(";"))):
            key, _, value = item.partition("=")
            ann.append((key.strip(), value.strip()))
        rows.append({"intent": intent, "annotations": ann, "text": text, "source": source})
    return rows


def predicted(parse):
    ents = parse.get("entities") or []
    attrs = {(e["entity"], str(e["value"])) for e in ents if e.get("entity") in ATTRS}
    artists = [str(e["value"]) for e in ents if e.get("entity") == "artist"]
    artists += [str(e["value"]) for e in ents if e.get("entity") == "unknown_mention"
                and e.get("mention_type") == "artist"]
    critiques = {str(e["value"]) for e in ents if e.get("entity") == "critique"}
    option = next((str(e["value"]) for e in ents if e.get("entity") == "option"), None)
    return attrs, artists, critiques, option


def same_artist(a: str, b: str) -> bool:
    from rapidfuzz import fuzz

    from music_domain.mentions import resolve_key

    ka, kb = resolve_key(a), resolve_key(b)
    return bool(ka) and (ka == kb or ka.rstrip("s") == kb.rstrip("s") or fuzz.ratio(ka, kb) >= 85)


def prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def evaluate(rows, parse):
    from sklearn.metrics import f1_score

    counts = {k: [0, 0, 0] for k in ("attribute", "artist", "critique")}
    per_attr = {a: [0, 0, 0] for a in ATTRS}
    gold_i, pred_i, failures = [], [], []
    option_ok = option_n = 0
    for row in rows:
        r = parse(row["text"])
        attrs, artists, critiques, option = predicted(r)
        intent = (r.get("intent") or {}).get("name")
        gold_i.append(row["intent"])
        pred_i.append(intent)
        g_attrs = {(k, v) for k, v in row["annotations"] if k in ATTRS}
        g_art = [v for k, v in row["annotations"] if k == "artist"]
        g_crit = {v for k, v in row["annotations"] if k == "critique"}
        g_opt = next((v for k, v in row["annotations"] if k == "option"), None)
        for kind, g, p in (("attribute", g_attrs, attrs), ("critique", g_crit, critiques)):
            counts[kind][0] += len(g & p)
            counts[kind][1] += len(p - g)
            counts[kind][2] += len(g - p)
        for a in ATTRS:
            ga = {x for x in g_attrs if x[0] == a}
            pa = {x for x in attrs if x[0] == a}
            per_attr[a][0] += len(ga & pa)
            per_attr[a][1] += len(pa - ga)
            per_attr[a][2] += len(ga - pa)
        matched = [any(same_artist(g, p) for p in artists) for g in g_art]
        counts["artist"][0] += sum(matched)
        counts["artist"][2] += len(g_art) - sum(matched)
        counts["artist"][1] += sum(1 for p in artists if not any(same_artist(g, p) for g in g_art))
        if g_opt is not None:
            option_n += 1
            option_ok += option == g_opt
        wrong = []
        if intent != row["intent"]:
            wrong.append(f"intent {intent}")
        if attrs != g_attrs:
            wrong.append(f"attributes {sorted(attrs)} (gold {sorted(g_attrs)})")
        if critiques != g_crit:
            wrong.append(f"critiques {sorted(critiques)} (gold {sorted(g_crit)})")
        if not all(matched) or len(artists) > sum(matched):
            wrong.append(f"artists {artists} (gold {g_art})")
        if wrong:
            failures.append((row["text"], row["source"], wrong))
    labels = sorted(set(gold_i))
    acc = sum(g == p for g, p in zip(gold_i, pred_i)) / len(gold_i)
    return {
        "n": len(rows), "intent_accuracy": acc,
        "intent_f1_weighted": f1_score(gold_i, pred_i, labels=labels, average="weighted", zero_division=0),
        "intent_f1_macro": f1_score(gold_i, pred_i, labels=labels, average="macro", zero_division=0),
        **{f"{k}_prf": prf(*v) for k, v in counts.items()},
        "per_attribute": {a: prf(*v) for a, v in per_attr.items()},
        "option_accuracy": option_ok / option_n if option_n else float("nan"), "option_n": option_n,
        "counts": counts, "failures": failures,
    }


def write_rasa_yml(rows, out: Path) -> None:
    """The same utterances as a Rasa NLU file (intents only), for `rasa test nlu` and the latency benchmark."""
    by_intent = {}
    for r in rows:
        by_intent.setdefault(r["intent"], []).append(r["text"])
    lines = ["# Made by `python benchmarks/nlu_real_eval.py --write-rasa-yml` from tests/nlu/real_phrasing.txt",
             "# (hand-written; CPCD-adapted lines CC BY 4.0, Chaganty et al. SIGIR 2023). Intents only:",
             "# attributes, artists and critiques are scored by benchmarks/nlu_real_eval.py.",
             'version: "3.1"', "nlu:"]
    for intent, texts in by_intent.items():
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += ["    - " + t.replace("[", "(").replace("]", ")") for t in texts]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--test-set", type=Path, default=TEST_FILE)
    ap.add_argument("--failures", action="store_true", help="list every line with a wrong part")
    ap.add_argument("--write-rasa-yml", action="store_true")
    a = ap.parse_args(argv)
    rows = read_test_set(a.test_set)
    if a.write_rasa_yml:
        write_rasa_yml(rows, ROOT / "tests" / "nlu" / "test_nlu.yml")
        print(f"{len(rows)} utterances -> tests/nlu/test_nlu.yml")
        return
    import logging

    import structlog
    from rasa.core.agent import Agent

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    agent = Agent.load(str(a.model or models[-1]))
    loop = asyncio.new_event_loop()
    res = evaluate(rows, lambda t: loop.run_until_complete(agent.parse_message(t)))
    src = Counter("cpcd" if r["source"].startswith("cpcd ") else "own" for r in rows)
    n_crit = sum(1 for r in rows if any(k == "critique" for k, _ in r["annotations"]))
    print(f"{res['n']} utterances ({src['cpcd']} adapted from CPCD, {src['own']} own; {n_crit} with a critique)")
    print(f"intent: accuracy {res['intent_accuracy']:.3f}, F1 weighted {res['intent_f1_weighted']:.3f}, "
          f"macro {res['intent_f1_macro']:.3f}")
    for k in ("attribute", "artist", "critique"):
        p, r, f = res[f"{k}_prf"]
        tp, fp, fn = res["counts"][k]
        print(f"{k:9}: P {p:.3f} R {r:.3f} F1 {f:.3f}  (tp {tp}, fp {fp}, fn {fn})")
    print("  per attribute: " + ", ".join(f"{a} {v[2]:.2f}" for a, v in res["per_attribute"].items()))
    print(f"option ('the second one'): accuracy {res['option_accuracy']:.3f} on {res['option_n']}")
    print(f"{len(res['failures'])} lines with at least one wrong part" + ("" if a.failures else " (--failures lists them)"))
    if a.failures:
        for text, source, wrong in res["failures"]:
            print(f"  [{source}] {text!r}: " + "; ".join(wrong))


if __name__ == "__main__":
    main()
