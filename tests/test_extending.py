"""Extension points, each shown by registering a fake: a backend, a document reader, a retrieval stage."""

import importlib
import sys
from pathlib import Path

import pytest
from conftest import says, scripted

import qa.api
from qa.answering.chain import Pipeline
from qa.domain import Passage
from qa.errors import DocumentError, SettingsError
from qa.models.backends import BACKENDS, backend, describe, options_table
from qa.retrieval.hybrid import IndexRetriever, Retriever
from qa.settings import Settings
from qa.store.documents import read_document
from qa.store.index import Index
from qa.store.ingestion import ingest
from qa.store.readers import READERS, Extracted, register_reader, supported_suffixes


# A backend with an option of its own, as its one file would be written (a plugin names the module in its
# `qa.backends` entry point). Its model cites passage 1 with the sentence holding "2030", and says yes as the judge.
ECHO_BACKEND = """
from dataclasses import dataclass

from conftest import scripted

from qa.models.backends import Backend, register
from qa.settings import setting


@dataclass(frozen=True)
class EchoOptions:
    year: int = setting(help="the year the echo model answers with", low=2000)
    voice: str = setting("plain", help="how it says it", choices=("plain", "loud"))


def make(settings, options, role):
    if role == "judge":
        return scripted(lambda m: "yes")
    return scripted(lambda m: f"The core partnership will continue until {options.year} [1].")


register(Backend("echo", make, lambda s, o: f"echo {o.voice} for {s.collection}", options=EchoOptions))
"""


@pytest.fixture
def echo_backend(tmp_path, monkeypatch):
    (tmp_path / "qa_echo_backend.py").write_text(ECHO_BACKEND)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("qa_echo_backend")
    yield
    del BACKENDS["echo"]
    sys.modules.pop("qa_echo_backend", None)


def test_a_backend_with_options_of_its_own_is_one_file_and_answers(echo_backend, settings):
    assert Settings.from_env({"QA_BACKEND": "echo", "QA_ECHO_YEAR": "2030"}).options() == {"year": "2030"}
    echo = settings.with_(backend="echo", backend_options={"year": "2030"})
    assert describe(echo) == "echo plain for qa-corpus"
    answer = qa.api.ask("Until when will the core partnership continue?", settings=echo)
    assert not answer.refused and "2030" in answer.citations[0].text
    assert qa.api.info(echo)["generator"] == "echo plain for qa-corpus"
    assert "QA_ECHO_YEAR" in options_table() and "the year the echo model answers with" in options_table()


@pytest.mark.parametrize(
    "options, message",
    [
        ({}, "the echo backend needs QA_ECHO_YEAR"),
        ({"year": "soon"}, "QA_ECHO_YEAR='soon' is not a valid int"),
        ({"year": "1999"}, "QA_ECHO_YEAR must be at least 2000, not 1999"),
        ({"year": "2030", "voice": "sung"}, "QA_ECHO_VOICE must be one of plain, loud, not 'sung'"),
    ],
)
def test_a_backend_checks_its_own_options_naming_the_variable(echo_backend, settings, options, message):
    with pytest.raises(SettingsError, match=message):
        backend(settings.with_(backend="echo", backend_options=options))


def test_an_unregistered_backend_is_refused_with_the_registered_ones_named(settings):
    backend(settings)  # the built-in ones are found through their entry points
    with pytest.raises(SettingsError, match=f"QA_BACKEND must be one of {', '.join(sorted(BACKENDS))}, not 'gpt'"):
        backend(settings.with_(backend="gpt"))


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
    report = ingest(Index(settings, embeddings), [settings.corpus_dir])
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
