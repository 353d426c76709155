"""Can a sentence check continue the answer's own conversation instead of reading its passage again?

`python eval/experiments/check_forms.py [own|halueval] [N] [out.jsonl]`: for N labelled judge pairs, the
generator's P(yes) in the standalone form the judge uses (`qa.answering.judge.judge_messages`: the judge's
instruction, the passage, the claim) and in forms that continue an answer conversation whose prompt already
holds the passage (the pair's passages and question in the answer prompt, `pair.asked`, written by
`pair_questions.py`): with the sentence as the model's own draft, or as a claim to check without it. Each
continuation costs its ~25-45 tokens; the standalone form reads the passage again. Prints each form's AUC and
best balanced accuracy over the model's scores alone (no deterministic checks). Nothing is shipped from here.

Result (`python eval/experiments/check_forms.py report eval/experiments/check_forms-own.jsonl`, 26 own pairs,
13 supported): standalone AUC 1.00; the continuations 0.76 (the model's own draft, quoted), 0.81 (draft,
strict wording), 0.89-0.91 (a claim without a draft). With its own draft in view the 1.5B model says yes to
nearly anything (median P(yes) 0.94 for unsupported claims): the sentence check stays standalone.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

import numpy as np
from langchain_core.messages import AIMessage, HumanMessage

from qa.answering.judge import judge_messages
from qa.answering.prompts import answer_messages
from qa.api import pipeline
from qa.domain import Passage
from qa.evaluation.data import load_halueval, load_judge_pairs
from qa.text import MARKER

PAIRS = Path(__file__).resolve().parents[1] / "judge_pairs.jsonl"

WITH_DRAFT = {  # the sentence is the model's own answer, then the check
    "draft_quote": lambda claim, where: f'Does {where} state this: "{claim}"? Reply yes or no.',
    "draft_judge": lambda claim, where: (
        "You check claims against a source passage. Reply yes if the passage states the claim, no otherwise.\n\n"
        f"Passage: {where}\n\nClaim: {claim}\n\nDoes the passage state the claim? Reply yes or no."
    ),
    "draft_strict": lambda claim, where: f'Is every part of "{claim}" stated in {where}, with nothing changed or added? Reply yes or no.',
}
WITHOUT_DRAFT = {  # the check follows the question at once: the model has written nothing it could defend
    "claim_quote": lambda claim, where: f'Check a claim against the passages, not an answer. Does {where} state this: "{claim}"? Reply yes or no.',
    "claim_judge": lambda claim, where: (
        "Now you check claims against a source passage. Reply yes if the passage states the claim, no otherwise.\n\n"
        f"Passage: {where}\n\nClaim: {claim}\n\nDoes the passage state the claim? Reply yes or no."
    ),
}


def scores(pair, p) -> dict:  # noqa: ANN001 - a JudgePair and the pipeline
    passages = [Passage(f"{pair.id}-{n}", t, "pair", "", 0, len(t), 1.0) for n, t in enumerate(pair.passages, 1)]
    messages = answer_messages(pair.question or pair.asked, passages)
    numbers = " and ".join(f"[{n}]" for n in range(1, len(passages) + 1))
    where = f"passage {numbers}" if len(passages) == 1 else f"passages {numbers} together"
    claim = re.sub(r"\s+([.!?])", r"\1", MARKER.sub("", pair.sentence)).strip()
    if pair.question:
        claim = f'The answer to "{pair.question}" is: {claim}'
    draft = AIMessage(f"{pair.sentence.rstrip('.')} {''.join(f'[{n}]' for n in range(1, len(passages) + 1))}.")
    row = {"id": pair.id, "kind": pair.kind, "y": pair.supported}
    for name, check in WITH_DRAFT.items():
        row[name] = p.chat_model.yes_probability([*messages, draft, HumanMessage(check(claim, where))])
    for name, check in WITHOUT_DRAFT.items():
        row[name] = p.chat_model.yes_probability([*messages, HumanMessage(check(claim, where))])
    row["standalone"] = p.judge.yes_probability(judge_messages(claim, "\n".join(pair.passages)))
    return row


def report(rows: list[dict]) -> None:
    for form in [k for k in rows[0] if k not in ("id", "kind", "y")]:
        yes = np.array([r[form] for r in rows if r["y"]])
        no = np.array([r[form] for r in rows if not r["y"]])
        auc = float((yes[:, None] > no[None, :]).mean() + 0.5 * (yes[:, None] == no[None, :]).mean())
        bacc = max(((yes >= t).mean() + (no < t).mean()) / 2 for t in np.unique(np.r_[yes, no]))
        print(f"{form:13s} AUC {auc:.3f}  best balanced accuracy {bacc:.3f}  median P(yes) supported {np.median(yes):.3f}, not {np.median(no):.3f}")
    print(f"{len(rows)} pairs")


def main(which: str = "own", n: int = 80, out: str | None = None) -> None:
    p = pipeline()
    pairs = load_judge_pairs(PAIRS) if which == "own" else load_halueval(sample=n)
    rows = []
    for pair in random.Random(3).sample(pairs, min(n, len(pairs))):
        rows.append(scores(pair, p))
        if out:
            with open(out, "a") as f:
                f.write(json.dumps(rows[-1]) + "\n")
    report(rows)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["report"]:  # the figures of a saved run: check_forms-own.jsonl holds 26 own pairs
        report([json.loads(line) for line in Path(args[1]).read_text().splitlines()])
        sys.exit()
    main(args[0] if args else "own", int(args[1]) if len(args) > 1 else 80, args[2] if len(args) > 2 else None)
