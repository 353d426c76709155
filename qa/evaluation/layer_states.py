"""Collect the generator's hidden states at the end of the project's own answer prompt, for a probe to learn
whether the passages answer the question (issue 36's main bet).

Each training question (never a locked one: eval/near_miss_split.json) goes through the pipeline as a user's
would: retrieval over its source's corpus, the answerability model's scores, the answer prompt built from the
passages; the prompt is evaluated (no answer is generated) and the residual stream of LAYERS at its last token
kept. The questions come in one seeded order mixing every source, so whatever prefix is done is a fair sample
and a learning curve can be read off it.

The job is resumable and long (seconds a question on 2 cores): each question's states are appended to one
float16 file per layer and then its record to `records.jsonl`; a new run truncates the layer files to the
records written and goes on from there.

    python -m qa.evaluation.layer_states OUT_DIR [--limit N] [--sources squad clapnq]

A session's machine does not outlive it, and collecting 3,000 questions takes longer than one: what each session
collected is kept in `eval/layer-states/part-N.tar.gz` (its new records and their layer rows, never rewritten);
`eval/layer-states/restore OUT_DIR` joins the parts in order, and the same command then goes on from there.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from qa.evaluation.pairs import SQUAD_DEV, gold_spans, holds_span, paragraph_numbers
from qa.evaluation.benchmarks import load_benchmark, part
from qa.evaluation.splits import BENCHMARKS
from qa.evaluation.squad import SquadSet, write_corpus
from qa.settings import Settings

LAYERS = (20,)  # of 28: of 16, 20 and 24, collected for the first 600 questions, 20 read best (docs/near_miss.md)
SEED = 36


@dataclass(frozen=True)
class Question:
    """A training question, where its states come from and what is known of its answer."""

    id: str
    source: str  # "squad" or "clapnq": the corpus it is asked over
    question: str
    group: str  # questions of one group (an article's paragraph, a passage) stay in one fold
    answerable: bool  # the question's own passage answers it
    own: str  # the corpus document (or, for SQuAD, the article) the question was written against


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _develop(path: Path, corpus: Path) -> SquadSet:
    """The develop part of a shared file (qa.evaluation.benchmarks), its documents written to `corpus`."""
    questions = part(load_benchmark(path), "develop")
    write_corpus(questions, corpus)
    return questions


def squad_questions(corpus: Path) -> list[Question]:
    squad = _develop(SQUAD_DEV, corpus)
    numbers = paragraph_numbers(squad)
    return [Question(q.id, "squad", q.question, f"{q.article}/{numbers[q.id]}", q.answerable, q.source) for q in squad.questions]


def clapnq_questions(corpus: Path) -> list[Question]:
    clap = _develop(BENCHMARKS / "clapnq", corpus)
    return [Question(q.id, "clapnq", q.question, q.source, q.answerable, q.source) for q in clap.questions]


# BoolQ-3L is not collected: its unanswerable question is its answerable twin over another passage, and a corpus of
# every passage answers it (qa.evaluation.benchmarks). The 261 collected before that was seen are in the parts kept,
# and left out of the probe's fit (qa.evaluation.probe.usable).
SOURCES = {"squad": squad_questions, "clapnq": clapnq_questions}


def ordered(questions: list[Question]) -> list[Question]:
    """One seeded order over every source, so any prefix mixes them as the whole does."""
    return random.Random(SEED).sample(questions, len(questions))


class Store:
    """The collected states: `layer-N.f16` (rows of float16, one per record) and `records.jsonl`, kept in step, and
    the width of a row (`width.txt`)."""

    def __init__(self, folder: Path, width: int | None = None):
        """`width`: the model's; an existing store keeps the one it was written with (`width.txt`)."""
        folder.mkdir(parents=True, exist_ok=True)
        kept = folder / "width.txt"
        if width is not None and not kept.exists():
            kept.write_text(str(width))
        if not kept.exists():
            raise ValueError(f"{folder} holds no states yet: give the model's width")
        self.folder, self.width = folder, int(kept.read_text())
        self.records_path = folder / "records.jsonl"
        self.records = _jsonl(self.records_path) if self.records_path.exists() else []
        row = self.width * 2
        for layer in LAYERS:  # a run stopped between a state and its record leaves rows without one
            path = self._layer_path(layer)
            if path.exists() and path.stat().st_size != len(self.records) * row:
                with path.open("r+b") as f:
                    f.truncate(len(self.records) * row)

    def _layer_path(self, layer: int) -> Path:
        return self.folder / f"layer-{layer}.f16"

    def done(self) -> set[str]:
        return {r["id"] for r in self.records}

    def add(self, record: dict, states: dict[int, np.ndarray]) -> None:
        """`states`: the question's row at each of LAYERS."""
        for layer in LAYERS:
            with self._layer_path(layer).open("ab") as f:
                f.write(states[layer].astype(np.float16).tobytes())
        with self.records_path.open("a") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.records.append(record)

    def states(self, layer: int) -> np.ndarray:
        """Every record's state at `layer`, as float32 (records × width)."""
        data = np.fromfile(self._layer_path(layer), dtype=np.float16)
        return data.reshape(-1, self.width)[: len(self.records)].astype(np.float32)


def collect(out: Path, limit: int | None, settings: Settings, sources: tuple[str, ...] = tuple(SOURCES), log=print) -> None:  # noqa: ANN001
    from qa.answering.chain import Pipeline, clean_question
    from qa.answering.prompts import answer_messages
    from qa.api import index as open_index
    from qa.models.generators import local_chat_model

    chat = local_chat_model(settings, layers=LAYERS)
    store = Store(out, chat.engine.llama.n_embd())
    work = out / "work"
    questions = ordered([q for name in sources for q in SOURCES[name](work / name / "corpus")])
    spans = gold_spans(SQUAD_DEV)
    pipelines = {}
    for name in sources:
        s = settings.with_(corpus_dir=work / name / "corpus", index_dir=work / name / "index", chroma_url=None)
        index = open_index(s)
        pipelines[name] = Pipeline(s, index.embeddings, chat, index=index)
    done = store.done()
    todo = [q for q in questions if q.id not in done][:limit]
    log(f"{len(done)} done, {len(todo)} to do of {len(questions)}")
    for q in todo:
        started = time.monotonic()
        pipeline = pipelines[q.source]
        question = clean_question(q.question)
        passages = pipeline.checker.assess(question, pipeline.search(question))
        if q.source == "squad":
            gold = q.answerable and any(holds_span(p, spans[q.id]) for p in passages)
        else:
            gold = q.answerable and any(p.source == q.own for p in passages)
        with chat.engine.context(chat.role) as llama:
            new_tokens = chat.evaluate_prompt(llama, answer_messages(question, passages))
        states = chat.prompt_state()
        record = asdict(q) | {
            "gold_retrieved": gold,
            "own_retrieved": any(p.source == q.own for p in passages),
            "answers": [p.answers for p in passages],
            "scores": [p.score for p in passages],
            "new_tokens": new_tokens,
            "seconds": round(time.monotonic() - started, 2),
        }
        store.add(record, states)
        log(f"{len(store.records)} {q.source} {q.id} {new_tokens} tokens {record['seconds']} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m qa.evaluation.layer_states", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the folder of states and records (resumed when it exists)")
    parser.add_argument("--limit", type=int, default=None, help="stop after this many new questions")
    parser.add_argument("--sources", nargs="+", choices=list(SOURCES), default=list(SOURCES),
                        help="collect only these sources' questions (in the same order; a later run with all resumes)")
    args = parser.parse_args(argv)
    collect(args.out, args.limit, Settings.from_env(), tuple(args.sources))


if __name__ == "__main__":
    main()
