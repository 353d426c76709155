"""The Chroma index follows the files: idempotent re-ingest, replaced and removed documents, skipped bad files."""

from pathlib import Path

import pytest

from qa.errors import CorpusError
from qa.index import Index


@pytest.fixture
def index(settings, embeddings) -> Index:
    return Index(settings, embeddings)


def test_first_ingest_adds_the_article_with_exact_spans(index, corpus):
    report = index.ingest([corpus])
    assert len(report.added) == 1 and report.chunks_written == index.count() > 0
    text = (corpus / "microsoft-openai-partnership.md").read_text()
    for chunk in index.chunks():
        assert text[chunk.start : chunk.end] == chunk.text


def test_reingesting_unchanged_files_does_no_work(index, corpus):
    index.ingest([corpus])
    ids = [c.id for c in index.chunks()]
    report = index.ingest([corpus])
    assert report.unchanged and not report.changed and report.chunks_written == 0
    assert [c.id for c in index.chunks()] == ids


def test_a_changed_file_replaces_its_chunks_and_leaves_no_orphans(index, corpus):
    article = corpus / "microsoft-openai-partnership.md"
    index.ingest([corpus])
    article.write_text(article.read_text().replace("until 2030", "until 2032"))
    report = index.ingest([corpus])
    assert report.updated == [index.chunks()[0].source]
    texts = " ".join(c.text for c in index.chunks())
    assert "until 2032" in texts and "until 2030" not in texts
    new_text = article.read_text()
    assert all(new_text[c.start : c.end] == c.text for c in index.chunks())


def test_a_deleted_file_loses_its_chunks(index, corpus):
    extra = corpus / "note.txt"
    extra.write_text("The office moves to Lisbon in 2027.")
    index.ingest([corpus])
    assert any("Lisbon" in c.text for c in index.chunks())
    extra.unlink()
    report = index.ingest([corpus])
    assert len(report.removed) == 1
    assert not any("Lisbon" in c.text for c in index.chunks())


def test_bad_files_are_reported_and_the_others_still_ingest(index, corpus):
    (corpus / "empty.txt").write_text("")
    (corpus / "binary.md").write_bytes(b"\x00\xff\x00")
    (corpus / "photo.jpg").write_bytes(b"\xff\xd8")  # not a document type: skipped silently inside a folder
    report = index.ingest([corpus])
    assert len(report.added) == 1
    assert set(report.failed) == {"empty.txt", "binary.md"}
    assert all("has no text" in r or "binary" in r for r in report.failed.values())


def test_a_missing_path_is_a_clear_error(index, tmp_path: Path):
    with pytest.raises(CorpusError, match="no such file or directory"):
        index.ingest([tmp_path / "nowhere"])


def test_retrieval_ranks_the_passage_that_holds_the_answer_first(index, corpus):
    index.ingest([corpus])
    from qa.retrieval import PassageRetriever, to_passage

    retriever = PassageRetriever(store=index.store, k=3, min_score=0.25)
    top = [to_passage(d) for d in retriever.invoke("Until when will the core partnership continue?")]
    assert "continue until 2030" in top[0].text
    assert top[0].score >= top[-1].score
    assert retriever.invoke("What is the capital of France?") == []
