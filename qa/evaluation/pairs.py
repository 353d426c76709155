"""Labelled (question, passage) pairs as retrieval makes them, for the answerability model.

Every question of a SQuAD 2.0 file's develop (or locked) articles is put to the project's own retriever over
a corpus of those articles; each passage it returns is labelled by whether it holds the question's gold answer span
(its character span in the article), so the negatives are the passages a user's question really meets:
neighbouring paragraphs, the same paragraph's other chunk, and for an unanswerable question the very
paragraph it was written against (with the tempting wrong span). A gold passage the retriever missed is
added as a positive. A passage that holds the answer's words but not its span is left out: it may or may
not answer, and a wrong label teaches more than a missing one.
"""

from __future__ import annotations

import json
import tempfile
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

from qa.domain import Chunk, Passage
from qa.evaluation.benchmarks import load_benchmark, part
from qa.evaluation.splits import TRAINING_SPLIT
from qa.evaluation.squad import SquadSet, holds_answer, load_squad, write_corpus
from qa.settings import Settings
from qa.store.ingestion import ingest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SQUAD = ROOT.parent / "shared" / "benchmarks" / "squad2" / "train-v2.0-first10.json"
SQUAD_DEV = DEFAULT_SQUAD.with_name("dev-v2.0-29-articles.json")


@dataclass(frozen=True)
class Pair:
    """One (question, passage) pair and whether the passage answers the question."""

    question: str
    passage: str
    label: int
    article: str
    paragraph: int  # the question's paragraph number in its article: splits keep a paragraph's questions together
    rank: int  # the passage's place in the retrieved list (-1: a gold passage the retriever missed)


def gold_spans(path: Path) -> dict[str, list[tuple[int, int]]]:
    """Question id → character spans of its gold answers in the article document that `load_squad` writes."""
    squad = load_squad(path)
    paragraph_start = {q.id: q.start for q in squad.questions}
    spans: dict[str, list[tuple[int, int]]] = {}
    for article in json.loads(path.read_text())["data"]:
        for paragraph in article["paragraphs"]:
            # load_squad strips each context; answer offsets count from the unstripped one.
            lead = len(paragraph["context"]) - len(paragraph["context"].lstrip())
            for qa in paragraph["qas"]:
                base = paragraph_start[qa["id"]] - lead
                spans[qa["id"]] = [(base + a["answer_start"], base + a["answer_start"] + len(a["text"])) for a in qa["answers"]]
    return spans


def holds_span(piece: Chunk, spans: list[tuple[int, int]]) -> bool:
    """Whether a chunk or passage holds one of the spans whole."""
    return any(piece.start <= s and e <= piece.end for s, e in spans)


def label(passage: Passage, spans: list[tuple[int, int]], answers: tuple[str, ...]) -> int | None:
    """1 when the passage holds a gold span, 0 when it holds no gold answer at all, None when in doubt."""
    if holds_span(passage, spans):
        return 1
    if answers and holds_answer(passage.text, answers):
        return None
    return 0


def make_pairs(path: Path, part_name: str, settings: Settings, top_k: int = 5) -> list[Pair]:
    """Pairs for every question of a SQuAD 2.0 file's `develop` or `locked` part (`qa.evaluation.benchmarks.part`),
    retrieved from a fresh index of that part's articles alone: a locked article never enters a develop index."""
    from qa.api import index as open_index
    from qa.retrieval.hybrid import IndexRetriever

    squad = part(load_benchmark(path), part_name)
    spans = gold_spans(path)
    pairs: list[Pair] = []
    with tempfile.TemporaryDirectory(prefix="qa-pairs-") as tmp:
        settings = settings.with_(corpus_dir=Path(tmp) / "corpus", index_dir=Path(tmp) / "index", chroma_url=None, top_k=top_k)
        write_corpus(squad, settings.corpus_dir)
        store = open_index(settings)
        ingest(store, [settings.corpus_dir])
        retriever = IndexRetriever(store, settings)
        chunks = {source: store.chunks(source) for source in squad.documents}
        numbers = paragraph_numbers(squad)
        for q in squad.questions:
            found = retriever.retrieve(q.question)
            gold = [c for c in chunks[q.source] if holds_span(c, spans[q.id])]
            missed = [c for c in gold if c.id not in {p.id for p in found}]
            candidates = [(rank, p) for rank, p in enumerate(found)] + [(-1, _as_passage(c)) for c in missed]
            for rank, passage in candidates:
                y = label(passage, spans[q.id], q.answers)
                if y is not None:
                    pairs.append(Pair(q.question, passage.text, y, q.article, numbers[q.id], rank))
    return pairs


def paragraph_numbers(squad: SquadSet) -> dict[str, int]:
    """Question id → its paragraph's number (from 0) within its article."""
    starts: dict[str, list[int]] = {}
    for q in squad.questions:
        if q.start not in starts.setdefault(q.article, []):
            starts[q.article].append(q.start)
    return {q.id: starts[q.article].index(q.start) for q in squad.questions}


def _as_passage(chunk: Chunk) -> Passage:
    return Passage(chunk.id, chunk.text, chunk.source, chunk.title, chunk.start, chunk.end, score=0.0)


def develop_articles() -> list[str]:
    """The shared SQuAD file's articles that training and fitting may read (eval/squad_split.json)."""
    return json.loads(TRAINING_SPLIT.read_text())["develop"]


# The share of each article's paragraphs kept out of training: the model's own figures and the confidence's
# fit are measured there. Zelda's is larger: its unanswerable questions are the only ones outside the locked
# articles, and the fit needs enough of them the model never saw.
HELD_OUT_SHARE = {"The_Legend_of_Zelda:_Twilight_Princess": 0.4}


def held_out(article: str, paragraph: int) -> bool:
    """Whether a paragraph is kept out of training (by a hash of article and paragraph: stable)."""
    return zlib.crc32(f"{article}/{paragraph}".encode()) % 1000 < HELD_OUT_SHARE.get(article, 0.15) * 1000


def save(pairs: list[Pair], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(json.dumps(asdict(p), ensure_ascii=False) + "\n" for p in pairs))


def load(source: Path) -> list[Pair]:
    return [Pair(**json.loads(line)) for line in source.read_text().splitlines() if line.strip()]
