"""Extension points, each shown by registering a fake: a backend, a document reader, a retrieval stage."""

from pathlib import Path

import pytest
from conftest import says, scripted

import qa.api
from qa.answering.chain import Pipeline
from qa.domain import Passage
from qa.errors import DocumentError, SettingsError
from qa.models.backends import BACKENDS, Backend, describe, register
from qa.retrieval.hybrid import IndexRetriever, Retriever
from qa.settings import Settings
from qa.store.documents import read_document
from qa.store.index import Index
from qa.store.readers import READERS, Extracted, register_reader, supported_suffixes


@pytest.fixture
def echo_backend():
    """A backend whose model cites passage 1 with the sentence holding "2030", and says yes as the judge."""

    def make(settings: Settings, role: str):
        if role == "judge":
            return scripted(lambda m: "yes")
        return scripted(lambda m: "The core partnership will continue until 2030 [1].")

    register(Backend("echo", make, lambda s: f"echo for {s.collection}", needs=("collection",)))
    yield
    del BACKENDS["echo"]


def test_a_registered_backend_is_a_valid_setting_and_answers(echo_backend, settings):
    echo = settings.with_(backend="echo")
    assert describe(echo) == "echo for qa-corpus"
    answer = qa.api.ask("Until when will the core partnership continue?", settings=echo)
    assert not answer.refused and "2030" in answer.citations[0].text
    assert qa.api.info(echo)["generator"] == "echo for qa-corpus"


def test_a_backend_names_what_it_needs(echo_backend, settings):
    with pytest.raises(SettingsError, match="the echo backend needs QA_COLLECTION"):
        settings.with_(backend="echo", collection="").validated()


def test_an_unregistered_backend_is_refused_with_the_registered_ones_named(settings):
    with pytest.raises(SettingsError, match=f"QA_BACKEND must be one of {', '.join(BACKENDS)}, not 'gpt'"):
        settings.with_(backend="gpt")


@pytest.fixture
def csv_reader():
    def read_csv(path: Path) -> Extracted:
        rows = [line.split(",") for line in path.read_text().splitlines() if line.strip()]
        header, *body = rows
        return Extracted(None, "\n\n".join(". ".join(f"{h} is {v}" for h, v in zip(header, row)) + "." for row in body))

    register_reader((".csv",), read_csv, "CSV file")
    yield
    del READERS[".csv"]


def test_a_registered_reader_is_used_for_its_suffix_by_read_and_ingest(csv_reader, settings, embeddings):
    path = settings.corpus_dir / "bridges.csv"
    path.write_text("name,opened\nHarbour Bridge,1932\n")
    assert ".csv" in supported_suffixes()
    assert read_document(path, settings.corpus_dir).text == "name is Harbour Bridge. opened is 1932."
    report = Index(settings, embeddings).ingest([settings.corpus_dir])
    assert "bridges.csv" in report.added


def test_a_registered_reader_that_fails_gives_one_line_naming_its_kind(csv_reader, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("\n\n")  # no header row: the reader raises
    with pytest.raises(DocumentError, match=r"empty.csv: unreadable CSV file \(ValueError"):
        read_document(path)


class LastFirst:
    """A retrieval stage: wraps another retriever and re-orders its passages (a reranker would score them)."""

    def __init__(self, inner: Retriever):
        self.inner = inner

    def retrieve(self, question: str, k: int | None = None) -> list[Passage]:
        return list(reversed(self.inner.retrieve(question, k)))


def test_a_retrieval_stage_is_one_class_handed_to_the_pipeline(settings, embeddings):
    index = Index(settings, embeddings)
    plain = IndexRetriever(index, settings)
    p = Pipeline(settings, embeddings, says("It continues until 2030 [1]."), index=index, retriever=LastFirst(plain))
    answer = p.ask("Until when will the core partnership continue?", verify="off")
    first = plain.retrieve("Until when will the core partnership continue?")
    assert [x.id for x in answer.passages] == [x.id for x in reversed(first)]
    assert answer.citations[0].passage_id == first[-1].id
