"""The best passages are shown with the chunks just before and after them in their paragraph, within top_k."""

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from qa.domain import Chunk, Passage
from qa.retrieval.neighbours import WithNeighbours, retriever_for
from qa.store.index import Index
from qa.store.ingestion import ingest

# Two paragraphs of three sentences each; 50-character chunks hold one sentence.
MEMO = (
    "The harbour opened in the spring of 1901.\nIts first pier was built of oak.\nThe pier burned down in 1911.\n\n"
    "A stone pier replaced it two years later.\nIt still stands today.\nShips of any size can moor there."
)


@pytest.fixture
def index(settings, corpus) -> Index:
    for path in corpus.iterdir():
        path.unlink()
    (corpus / "memo.txt").write_text(MEMO)
    index = Index(settings.with_(chunk_size=50), DeterministicFakeEmbedding(size=16))
    ingest(index, [corpus])
    return index


def sentence(index: Index, words: str) -> Chunk:
    return next(c for c in index.chunks() if words in c.text)


class Fixed:
    """A retriever that returns these chunks, best first, whatever the question."""

    def __init__(self, chunks: list[Chunk]):
        self.chunks = chunks

    def retrieve(self, question: str, k: int | None = None) -> list[Passage]:
        return [Passage(**vars(c), score=0.9 - n / 10) for n, c in enumerate(self.chunks)][:k]


def texts(passages: list[Passage]) -> list[str]:
    return [p.text for p in passages]


def test_the_chunks_adjacent_to_one_stay_inside_its_paragraph(index):
    assert [c.text for c in index.chunks()] == [line for line in MEMO.split("\n") if line]
    middle = sentence(index, "oak")
    assert [c.text for c, _ in index.adjacent(middle, 1)] == [
        "The harbour opened in the spring of 1901.", "The pier burned down in 1911."
    ]
    # The last sentence of a paragraph: the blank line after it ends the run.
    assert [c.text for c, _ in index.adjacent(sentence(index, "burned"), 1)] == ["Its first pier was built of oak."]


def test_the_best_passage_is_shown_in_its_paragraph_and_the_lowest_ranked_give_way(index):
    retrieved = [sentence(index, "oak"), sentence(index, "stands"), sentence(index, "moor"), sentence(index, "stone")]
    passages = WithNeighbours(Fixed(retrieved), index, anchors=1, k=4).retrieve("When did the harbour open?")
    assert texts(passages) == [  # the paragraph in document order, then what else was retrieved
        "The harbour opened in the spring of 1901.",
        "Its first pier was built of oak.",
        "The pier burned down in 1911.",
        "It still stands today.",
    ]
    assert passages[1].score == pytest.approx(0.9) and all(-1 <= p.score <= 1 for p in passages)
    assert all(MEMO[p.start : p.end] == p.text for p in passages)


def test_a_neighbour_retrieved_further_down_moves_up_beside_its_anchor_once(index):
    retrieved = [sentence(index, "stone"), sentence(index, "moor"), sentence(index, "stands")]
    passages = WithNeighbours(Fixed(retrieved), index, anchors=1, k=5).retrieve("Which pier still stands?")
    assert texts(passages) == [
        "A stone pier replaced it two years later.", "It still stands today.", "Ships of any size can moor there."
    ]
    assert passages[1].score == pytest.approx(0.7)  # the retrieved passage, with its own score


def test_top_k_stays_a_limit_and_no_anchors_shows_what_was_retrieved(index):
    retrieved = [sentence(index, "oak"), sentence(index, "stands")]
    assert texts(WithNeighbours(Fixed(retrieved), index, anchors=1, k=5).retrieve("q", k=1)) == [
        "Its first pier was built of oak."
    ]
    unwidened = WithNeighbours(Fixed(retrieved), index, anchors=0, k=5).retrieve("q")
    assert texts(unwidened) == texts(Fixed(retrieved).retrieve("q"))


def test_the_setting_turns_the_stage_on_for_the_pipeline(index, settings):
    retriever = retriever_for(index, settings.with_(neighbours=2, top_k=4))
    assert isinstance(retriever, WithNeighbours) and (retriever.anchors, retriever.k) == (2, 4)
    assert not isinstance(retriever_for(index, settings), WithNeighbours)  # off by default
