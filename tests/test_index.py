"""The Chroma index follows the files: idempotent re-ingest, replaced and removed documents, skipped bad files."""

from pathlib import Path

import numpy as np
import pytest
from conftest import ARTICLE, make_pdf
from langchain_core.embeddings import DeterministicFakeEmbedding
from pydantic import Field

from qa.errors import CorpusError, IndexStoreError
from qa.store import chroma as chroma_module
from qa.store.chroma import chroma_client
from qa.store import index as index_module
from qa.store.documents import read_document
from qa.store.format import FORMAT, written_in
from qa.store.index import Index
from qa.store.ingestion import Embedder, ingest


@pytest.fixture
def index(settings, embeddings) -> Index:
    return Index(settings, embeddings)


def test_first_ingest_adds_the_article_with_exact_spans(index, corpus):
    report = ingest(index, [corpus])
    assert len(report.added) == 1 and report.chunks_written == index.count() > 0
    text = (corpus / "microsoft-openai-partnership.md").read_text()
    for chunk in index.chunks():
        assert text[chunk.start : chunk.end] == chunk.text


def test_reingesting_unchanged_files_does_no_work(index, corpus):
    ingest(index, [corpus])
    ids = [c.id for c in index.chunks()]
    report = ingest(index, [corpus])
    assert report.unchanged and not report.changed and report.chunks_written == 0
    assert [c.id for c in index.chunks()] == ids


def test_a_changed_file_replaces_its_chunks_and_leaves_no_orphans(index, corpus):
    article = corpus / "microsoft-openai-partnership.md"
    ingest(index, [corpus])
    article.write_text(article.read_text().replace("until 2030", "until 2032"))
    report = ingest(index, [corpus])
    assert report.updated == [index.chunks()[0].source]
    texts = " ".join(c.text for c in index.chunks())
    assert "until 2032" in texts and "until 2030" not in texts
    new_text = article.read_text()
    assert all(new_text[c.start : c.end] == c.text for c in index.chunks())


def test_an_ingest_lists_the_stored_chunks_only_when_some_are_not_of_a_live_version(fast_index, corpus, monkeypatch):
    for n in range(3):
        (corpus / f"memo{n}.txt").write_text(f"Memo {n}: the harbour opened in {1900 + n}. " * 20)
    ingest(fast_index, [corpus])
    reads = []
    real_read_all = index_module.read_all

    def read_all(collection, include, where=None, ids=None):
        reads.append("everything" if collection is fast_index.collection and where is None and ids is None else "some")
        return real_read_all(collection, include, where, ids)

    monkeypatch.setattr(index_module, "read_all", read_all)
    (corpus / "memo1.txt").write_text("Memo 1: the harbour closed in 1950. " * 20)
    report = ingest(fast_index, [corpus])
    assert report.updated == ["memo1.txt"] and "everything" not in reads
    assert fast_index.collection.count() == fast_index.count()  # memo1's old chunks are gone
    # Chunks no live version holds (a write cut short before its record switched) are listed and removed.
    chunk = fast_index.chunks("memo2.txt")[0]
    leftover = fast_index.collection.get(ids=[chunk.id], include=["metadatas", "embeddings"])
    fast_index.collection.add(ids=["leftover"], embeddings=leftover["embeddings"], documents=[""], metadatas=[{**leftover["metadatas"][0], "digest": "cut-short"}])
    assert ingest(fast_index, [corpus]).unchanged and "everything" in reads
    assert fast_index.collection.get(ids=["leftover"])["ids"] == []


def test_a_deleted_file_loses_its_chunks(index, corpus):
    extra = corpus / "note.txt"
    extra.write_text("The office moves to Lisbon in 2027.")
    ingest(index, [corpus])
    assert any("Lisbon" in c.text for c in index.chunks())
    extra.unlink()
    report = ingest(index, [corpus])
    assert len(report.removed) == 1
    assert not any("Lisbon" in c.text for c in index.chunks())


def test_bad_files_are_reported_and_the_others_still_ingest(index, corpus):
    (corpus / "empty.txt").write_text("")
    (corpus / "binary.md").write_bytes(b"\x00\xff\x00")
    (corpus / "photo.jpg").write_bytes(b"\xff\xd8")  # not a document type: skipped silently inside a folder
    report = ingest(index, [corpus])
    assert len(report.added) == 1
    assert set(report.failed) == {"empty.txt", "binary.md"}
    assert all("has no text" in r or "binary" in r for r in report.failed.values())


def test_a_missing_path_is_a_clear_error(index, tmp_path: Path):
    with pytest.raises(CorpusError, match="no such file or directory"):
        ingest(index, [tmp_path / "nowhere"])


def test_retrieval_ranks_the_passage_that_holds_the_answer_first(index, corpus):
    ingest(index, [corpus])
    from qa.retrieval.hybrid import PassageRetriever, to_passage

    retriever = PassageRetriever(store=index.store, keep=index.keep_live, lexical=index.lexical_search, k=3, min_score=0.25)
    top = [to_passage(d) for d in retriever.invoke("Until when will the core partnership continue?")]
    assert "continue until 2030" in top[0].text
    assert top[0].score >= top[-1].score
    assert retriever.invoke("What is the capital of France?") == []


def test_an_index_of_the_first_format_is_migrated_when_opened_and_then_reads_and_retrieves(index, corpus, settings, embeddings):
    """Format 1 (before 2026-12-02, no format recorded): a chunk's text was its Chroma document, not a metadata field."""
    ingest(index, [corpus])
    got = index.collection.get(include=["metadatas", "embeddings"])
    old = [{k: v for k, v in meta.items() if k != "text"} for meta in got["metadatas"]]
    index.collection.delete(ids=got["ids"])  # an upsert would keep the "text" field: Chroma merges metadata
    index.collection.add(ids=got["ids"], embeddings=got["embeddings"], documents=[m["text"] for m in got["metadatas"]], metadatas=old)
    chroma_client(settings).get_collection(f"{settings.collection}-generation").delete(ids=["format"])
    assert written_in(index.collection, index.records) == 1

    reopened = Index(settings, embeddings)
    assert reopened.records.format() == FORMAT == 2
    assert [c.text for c in reopened.chunks()] == [m["text"] for m in sorted(got["metadatas"], key=lambda m: (m["source"], m["start"]))]
    assert set(reopened.collection.get(include=["documents"])["documents"]) == {""}
    from qa.retrieval.hybrid import PassageRetriever, to_passage

    retriever = PassageRetriever(store=reopened.store, keep=reopened.keep_live, lexical=reopened.lexical_search, k=3, min_score=0.25)
    assert "continue until 2030" in to_passage(retriever.invoke("Until when will the core partnership continue?")[0]).text
    assert ingest(reopened, [corpus]).unchanged == [ARTICLE.name]  # nothing embedded again


def test_an_index_of_todays_format_that_recorded_none_opens_as_it_is(index, corpus, settings, embeddings):
    """Indexes written from 2026-12-02 until the format was numbered hold the text in the metadata already."""
    ingest(index, [corpus])
    before = index.collection.get(include=["metadatas", "documents"])
    chroma_client(settings).get_collection(f"{settings.collection}-generation").delete(ids=["format"])
    reopened = Index(settings, embeddings)
    assert reopened.records.format() == FORMAT and reopened.collection.get(include=["metadatas", "documents"]) == before


def test_an_index_of_a_later_format_is_refused_in_one_line(index, settings, embeddings):
    index.records.set_format(FORMAT + 1)
    with pytest.raises(IndexStoreError, match=f"format {FORMAT + 1}, written by a newer qa; this one reads format {FORMAT}") as e:
        Index(settings, embeddings)
    assert "\n" not in str(e.value)


def test_a_chunk_the_dense_search_misses_is_still_found_by_its_words(index, corpus):
    (corpus / "lighthouse.txt").write_text("The lighthouse keeper of Varnholm island in 1894 was Agneta Solberg.")
    ingest(index, [corpus])
    from qa.retrieval.hybrid import PassageRetriever

    # An HNSW point no query reaches (seen beside a 50 MB text): the dense search never returns it.
    dense = type(index.store).similarity_search_by_vector_with_relevance_scores

    def unreachable(store, vector, k, **kwargs):
        return [(d, s) for d, s in dense(store, vector, k=k, **kwargs) if "Varnholm" not in d.metadata["text"]]

    question = "Who was the lighthouse keeper of Varnholm island in 1894?"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(type(index.store), "similarity_search_by_vector_with_relevance_scores", unreachable)
        for lexical in (index.lexical_search, None):
            retriever = PassageRetriever(store=index.store, keep=index.keep_live, lexical=lexical, k=3, min_score=0.25)
            top = retriever.invoke(question)
            if lexical is None:  # the dense side alone never sees it
                assert all("Varnholm" not in d.page_content for d in top)
            else:
                assert "Agneta Solberg" in top[0].page_content and top[0].metadata["score"] > 0.5


# A document of more chunks than Chroma takes in one write (5,461 on the embedded store). The vectors
# come from langchain's deterministic fake embeddings: this is about the store, and MiniLM would take
# a minute to embed so many chunks.
def _long_document(folder: Path, words: int = 60_000) -> Path:
    path = folder / "long.txt"
    path.write_text(" ".join(f"word{i % 997} is number {i}." for i in range(words // 4)))
    return path


@pytest.fixture
def fast_index(settings) -> Index:
    return Index(settings.with_(chunk_size=50), DeterministicFakeEmbedding(size=16))


@pytest.mark.slow  # embeds a long document: ~9 s
def test_a_document_longer_than_the_store_batch_limit_ingests_beside_the_others(fast_index, corpus):
    long = _long_document(corpus)
    report = ingest(fast_index, [corpus])
    assert not report.failed and len(report.added) == 2
    documents = fast_index.documents()
    assert documents["long.txt"]["chunks"] > fast_index.max_batch
    text = long.read_text()
    chunks = fast_index.chunks("long.txt")
    assert len(chunks) == documents["long.txt"]["chunks"]
    assert all(text[c.start : c.end] == c.text for c in chunks)
    assert ingest(fast_index, [corpus]).chunks_written == 0


@pytest.mark.slow  # a document over the store batch limit
def test_a_write_that_stops_midway_leaves_the_previous_version_whole(fast_index, corpus, settings):
    long = _long_document(corpus)
    ingest(fast_index, [corpus])
    before = {c.id for c in fast_index.chunks("long.txt")}
    long.write_text(long.read_text().replace("number 7.", "number seven."))

    collection = fast_index.collection
    real_upsert, calls = collection.upsert, []

    def failing_upsert(**kwargs):
        calls.append(len(kwargs["ids"]))
        if len(calls) == 3:
            raise OSError("disk I/O error")
        return real_upsert(**kwargs)

    collection.upsert = failing_upsert
    from qa.errors import IndexStoreError

    with pytest.raises(IndexStoreError, match="writing to the disk failed"):
        ingest(fast_index, [corpus])
    collection.upsert = real_upsert
    assert sum(calls[:2]) > 0, "the new version was partly written before the failure"
    _old_version_whole_then_the_new_one_complete(fast_index, corpus, before)


def _old_version_whole_then_the_new_one_complete(index: Index, corpus: Path, before: set[str]) -> None:
    """Readers see long.txt's old version whole; the next ingest brings the new one and leaves nothing behind."""
    assert {c.id for c in index.chunks("long.txt")} == before
    assert not any("number seven." in c.text for c in index.chunks())
    report = ingest(index, [corpus])
    assert report.updated == ["long.txt"]
    text = (corpus / "long.txt").read_text()
    after = index.chunks("long.txt")
    assert any("number seven." in c.text for c in after) and all(text[c.start : c.end] == c.text for c in after)
    # Nothing of the interrupted write or the old version is left behind in the store.
    assert index.collection.count() == sum(d["chunks"] for d in index.documents().values())


def test_a_new_document_whose_write_stops_midway_is_not_visible(fast_index, corpus):
    ingest(fast_index, [corpus])
    _long_document(corpus)
    collection = fast_index.collection
    real_upsert, calls = collection.upsert, []

    def failing_upsert(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk I/O error")
        return real_upsert(**kwargs)

    collection.upsert = failing_upsert
    from qa.errors import IndexStoreError

    with pytest.raises(IndexStoreError):
        ingest(fast_index, [corpus])
    collection.upsert = real_upsert
    assert collection.count() > fast_index.count()  # part of it is stored ...
    assert "long.txt" not in fast_index.documents() and fast_index.chunks("long.txt") == []  # ... and none is shown
    from qa.retrieval.hybrid import PassageRetriever

    retriever = PassageRetriever(store=fast_index.store, keep=fast_index.keep_live, lexical=fast_index.lexical_search, k=50, min_score=-1.0)
    assert all(d.metadata["source"] != "long.txt" for d in retriever.invoke("word5 is number 5005."))


@pytest.mark.slow  # a thousand pages: ~3 s
def test_a_thousand_page_pdf_ingests_with_each_chunk_on_its_page(fast_index, corpus):
    pages = [[f"Page {n} records shipment {n * 7} of the harbour board.", f"Its cargo weighed {n * 3} tonnes."] for n in range(1, 1001)]
    (corpus / "ledger.pdf").write_bytes(make_pdf(pages, "Harbour ledger"))
    report = ingest(fast_index, [corpus])
    assert not report.failed and len(report.added) == 2
    text = read_document(corpus / "ledger.pdf").text
    chunks = fast_index.chunks("ledger.pdf")
    assert {c.page for c in chunks} == set(range(1, 1001))
    for c in chunks:
        assert text[c.start : c.end] == c.text and " ".join(c.text.split()) in " ".join(pages[c.page - 1])


@pytest.mark.slow  # a killed process, a long document
def test_an_ingest_killed_inside_a_long_document_leaves_its_previous_version_whole(fast_index, corpus, settings, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    long = _long_document(corpus)
    ingest(fast_index, [corpus])
    before = {c.id for c in fast_index.chunks("long.txt")}
    stored_before = fast_index.collection.count()
    long.write_text(long.read_text().replace("number 7.", "number seven."))

    script = tmp_path / "ingest.py"
    script.write_text(
        "import sys\nfrom pathlib import Path\n"
        "from langchain_core.embeddings import DeterministicFakeEmbedding\n"
        "from qa.store.index import Index\nfrom qa.store.ingestion import ingest\nfrom qa.settings import Settings\n"
        f"settings = Settings(corpus_dir=Path({str(corpus)!r}), index_dir=Path({str(settings.index_dir)!r}), chunk_size=50)\n"
        "ingest(Index(settings, DeterministicFakeEmbedding(size=16)), [settings.corpus_dir])\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    # Killed once part of the new version is stored, before the record switches to it.
    while fast_index.collection.count() <= stored_before and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"

    survivor = Index(settings.with_(chunk_size=50), fast_index.store.embeddings)
    assert survivor.collection.count() > stored_before  # part of the new version is in the store
    _old_version_whole_then_the_new_one_complete(survivor, corpus, before)


def test_a_document_of_one_line_repeated_leaves_the_rest_of_the_corpus_findable(fast_index, corpus):
    # 20,000 identical vectors left Chroma's HNSW search unable to reach any other chunk (recall 0).
    (corpus / "log.txt").write_text("Connection reset by peer, retrying. " * 20_000)
    report = ingest(fast_index, [corpus])
    assert not report.failed and len(report.added) == 2
    text = (corpus / "log.txt").read_text()
    repeated = fast_index.chunks("log.txt")
    assert len({c.text for c in repeated}) == len(repeated) and all(text[c.start : c.end] == c.text for c in repeated)
    for chunk in fast_index.chunks(ARTICLE.name):
        assert chunk.id in [d.id for d in fast_index.store.similarity_search(chunk.text, k=3)]


def test_reads_of_many_records_go_in_pages_and_miss_none(fast_index, corpus, monkeypatch):
    (corpus / "note.txt").write_text(" ".join(f"Harbour {n} opened in {1900 + n}." for n in range(30)))
    for n in range(8):
        (corpus / f"memo{n}.txt").write_text(f"Memo {n}.")
    ingest(fast_index, [corpus])
    whole = fast_index.collection.get(include=["metadatas"])
    sources = sorted(fast_index.live())
    monkeypatch.setattr(chroma_module, "READ_PAGE", 3)  # many pages, the last one short
    assert len(whole["ids"]) > 3 * 3 and len(sources) == 10
    listed = index_module._by_source(index_module.read_all(fast_index.collection, include=["metadatas"]))
    assert sorted(i for s in listed.values() for ids in s.ids.values() for i in ids) == sorted(whole["ids"])
    assert sorted(c.id for c in fast_index.chunks()) == sorted(whole["ids"])
    assert len(fast_index.chunks("note.txt")) == fast_index.documents()["note.txt"]["chunks"] > 3
    assert sorted(fast_index.live()) == sources
    assert sorted(fast_index.live([*sources, "gone.txt"])) == sources


@pytest.mark.slow  # 35,000 chunks written and removed: ~60 s
def test_an_index_of_more_chunks_than_one_store_read_returns_ingests_again(fast_index, corpus):
    # Chroma's embedded store fails any read of more than 32,766 records with their metadata (chroma#7687).
    long = _long_document(corpus, words=280_000)  # ~35,000 chunks
    assert ingest(fast_index, [corpus]).chunks_written > 32_766
    assert ingest(fast_index, [corpus]).unchanged == sorted([ARTICLE.name, long.name])
    assert len(fast_index.chunks(long.name)) == fast_index.documents()[long.name]["chunks"] > 32_766
    long.unlink()
    assert ingest(fast_index, [corpus]).removed == [long.name] and fast_index.collection.count() < 100


class _Counting(DeterministicFakeEmbedding):
    """Fake embeddings that record each text they embed."""

    embedded: list[str] = Field(default_factory=list)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded.extend(texts)
        return super().embed_documents(texts)


def test_a_text_already_embedded_in_an_ingest_is_not_embedded_again():
    model = _Counting(size=8)
    with Embedder(model, remembered=2) as embedder:
        first = embedder.submit(["a", "b"]).result()
        again = embedder.submit(["b", "c", "a"]).result()  # two remembered: "b", used longest ago, is forgotten
        assert embedder.submit(["b"]).result()[0].tolist() == first[1].tolist()
    assert model.embedded == ["a", "b", "c", "b"]
    assert again[0].tolist() == first[1].tolist() and again[2].tolist() == first[0].tolist()
    assert np.allclose(again, DeterministicFakeEmbedding(size=8).embed_documents(["b", "c", "a"]))


def test_an_ingest_embeds_a_chunk_repeated_across_documents_once(settings, corpus):
    boilerplate = "Confidential: for its addressee only."
    for n in range(3):
        (corpus / f"memo{n}.txt").write_text(f"Memo {n} says the budget grows by {n} percent.\n\n{boilerplate}")
    model = _Counting(size=8)
    index = Index(settings.with_(chunk_size=50), model)
    ingest(index, [corpus])
    assert model.embedded.count(boilerplate) == 1
    assert sum(boilerplate == c.text for c in index.chunks()) == 3


# A process killed at the worst moments of a write: after the new version's words are committed but before
# its record switches, and after the switch but before the old words are dropped.
_KILLED_INGEST = """
import os, signal, sys
from pathlib import Path
from langchain_core.embeddings import DeterministicFakeEmbedding
from qa.store.index import Index
from qa.store.ingestion import ingest
from qa.store.lexical import LexicalIndex
from qa.settings import Settings

corpus, index_dir, where = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
real = getattr(LexicalIndex, where)

def killed(self, *args, **kwargs):
    if where == "add":
        real(self, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)

setattr(LexicalIndex, where, killed)
settings = Settings(corpus_dir=corpus, index_dir=index_dir, chunk_size=50)
ingest(Index(settings, DeterministicFakeEmbedding(size=16)), [corpus])
"""


@pytest.mark.slow  # a fresh process, killed
@pytest.mark.parametrize("where", ["add", "keep_only"])
def test_an_ingest_killed_midway_leaves_vectors_and_words_in_step(fast_index, corpus, settings, where):
    import subprocess
    import sys

    from qa.retrieval.hybrid import PassageRetriever

    article = corpus / "note.txt"
    article.write_text("The old harbour opened in 1901. " * 20)
    ingest(fast_index, [corpus])
    before = {c.id for c in fast_index.chunks()}
    article.write_text("The new harbour opened in 1999. " * 20)
    run = subprocess.run([sys.executable, "-c", _KILLED_INGEST, str(corpus), str(settings.index_dir), where], capture_output=True)
    assert run.returncode == -9, run.stderr.decode()[-2000:]

    import chromadb

    chromadb.api.client.SharedSystemClient.clear_system_cache()  # what follows is a new process's view

    def found(question: str) -> list[str]:
        index = Index(settings.with_(chunk_size=50), fast_index.embeddings)
        retriever = PassageRetriever(store=index.store, keep=index.keep_live, lexical=index.lexical_search, k=20, min_score=-1.0)
        return [d.page_content for d in retriever.invoke(question)]

    live = {c.id for c in Index(settings.with_(chunk_size=50), fast_index.embeddings).chunks()}
    harbour = [text for text in found("When did the new harbour open in 1999?") if "harbour" in text]
    if where == "add":  # killed before the switch: the old version, in both
        assert live == before and harbour and not any("1999" in text for text in harbour)
    else:  # killed after it: the new version, in both
        assert live != before and harbour and all("1999" in text for text in harbour)
    index = Index(settings.with_(chunk_size=50), fast_index.embeddings)
    index.lexical_search("harbour", 1)  # a search brings the words in step with the records
    ingest(index, [corpus])
    assert index.lexical.ids() == {c.id for c in index.chunks()}
    assert all("1999" in text for text in found("When did the harbour open?") if "harbour" in text)
