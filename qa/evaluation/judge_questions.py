"""Give each labelled judge pair a question its sentence answers: `python -m qa.evaluation.judge_questions`.

At answer time the judge is asked inside the answer's conversation, which opens with the user's question;
validating it in that form needs a question per pair. The pairs were written as (sentence, passage), so
the generator writes one question from the sentence alone (greedy, once), stored as the pair's `asked`
field of eval/judge_pairs.jsonl: a supported sentence then answers its question from the passage, an
unsupported one answers it wrongly, as a wrong draft does. Pairs that have one keep it.
"""

from __future__ import annotations

import json
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage

PAIRS = Path(__file__).resolve().parents[2] / "eval" / "judge_pairs.jsonl"
PROMPT = "Write the one short question that this sentence answers. Reply with the question only.\n\nSentence: {sentence}"


def with_questions(rows: list[dict], model: BaseChatModel, log=print) -> list[dict]:  # noqa: ANN001 - a print-like
    """The pairs, each with its `asked` question (written by `model` where a pair has none)."""
    out = []
    for row in rows:
        if not row.get("asked"):
            reply = str(model.invoke([HumanMessage(PROMPT.format(sentence=row["sentence"]))]).content)
            row = {**row, "asked": " ".join(reply.split()).strip('"')}
            log(f"{row['id']}: {row['asked']}")
        out.append(row)
    return out


def main(path: Path = PAIRS) -> None:
    from qa.models.backends import make_chat_model
    from qa.settings import Settings

    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = with_questions(rows, make_chat_model(Settings.from_env()))
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


if __name__ == "__main__":
    main()
