"""The real embedded models answer the article questions with the right citation and refuse the rest.

Questions, references and gold passages live in eval/dataset.jsonl, shared with the eval suite.
"""

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ARTICLE, HARBOUR_PAGES, ROOT, make_docx, make_pdf

from qa.api import ask
from qa.settings import Settings
from qa.store.documents import read_document

pytestmark = pytest.mark.slow  # the real generator answers the article questions

DATASET = [json.loads(line) for line in (ROOT / "eval" / "dataset.jsonl").read_text().splitlines() if line.strip()]
ANSWERABLE = [r for r in DATASET if r["gold"] and r["type"] not in ("injection",)][:20]
UNANSWERABLE = [r for r in DATASET if r["type"] == "unanswerable"]
BROAD = [r for r in DATASET if r["type"] in ("overview", "main_points", "why", "how")]


@pytest.fixture(scope="module")
def real_settings(tmp_path_factory) -> Settings:
    return Settings.from_env(corpus_dir=ROOT / "corpus", index_dir=tmp_path_factory.mktemp("index"))


def facts_present(record: dict, text: str) -> bool:
    return all(any(alt.lower() in text.lower() for alt in fact.split("|")) for fact in record["facts"])


def cites_gold(record: dict, answer) -> bool:
    return any(any(g in c.text for g in record["gold"]) for c in answer.citations)


def test_at_least_18_of_20_article_questions_are_answered_and_cited_correctly(real_settings):
    assert len(ANSWERABLE) == 20
    results = {}
    for record in ANSWERABLE:
        answer = ask(record["question"], settings=real_settings)
        results[record["id"]] = (not answer.refused and facts_present(record, answer.text) and cites_gold(record, answer), answer.text)
    wrong = {k: text for k, (ok, text) in results.items() if not ok}
    share = 1 - len(wrong) / len(results)
    print(f"\n{len(results) - len(wrong)}/{len(results)} correct and cited; wrong: {wrong}")
    assert share >= 0.9, wrong


@pytest.mark.parametrize("record", BROAD, ids=[r["id"] for r in BROAD])
def test_broad_why_and_how_questions_get_cited_answers_with_their_key_facts(real_settings, record):
    answer = ask(record["question"], settings=real_settings)
    assert not answer.refused, answer.dropped
    assert facts_present(record, answer.text), answer.text
    assert cites_gold(record, answer), answer.citations
    assert all(s.support >= real_settings.judge_threshold for s in answer.sentences)


@pytest.mark.parametrize("record", UNANSWERABLE, ids=[r["id"] for r in UNANSWERABLE])
def test_questions_the_article_cannot_answer_are_refused(real_settings, record):
    answer = ask(record["question"], settings=real_settings)
    assert answer.refused, answer.text
    assert answer.citations == []


def test_every_citation_span_points_into_its_source(real_settings):
    question = "Which companies did OpenAI announce agreements with under the Stargate protocol?"
    answer = ask(question, settings=real_settings)
    assert answer.citations
    for c in answer.citations:
        text = (ROOT / "corpus" / c.source).read_text()
        assert text[c.start : c.end] == c.text
    assert {"retrieve_s", "generate_s", "total_s"} <= set(answer.timings)
    # The local model counts what it evaluates: at least the question and the cited passage were new to it.
    assert answer.timings["generate_tokens"] > len(question.split()) + len(answer.citations[0].text.split())
    assert answer.timings["verify_tokens"] >= 0


def run_cli(*args: str, cwd: Path, terminal: bool = False, **env: str) -> subprocess.CompletedProcess:
    """`qa ARGS` in a fresh process, with the user's data directory (a per-user index) inside `cwd`;
    `terminal`: its stderr is a terminal (a pseudo-terminal), as when a person runs it."""
    env = {**os.environ, "XDG_DATA_HOME": str(cwd / "xdg-data"), **env}
    command = [sys.executable, "-m", "qa", *args]
    if not terminal:
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)
    import pty

    reader, writer = pty.openpty()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=writer, text=True, env=env)
    os.close(writer)
    said = b""
    with contextlib.suppress(OSError):  # the terminal closes (EIO) when the process ends
        while data := os.read(reader, 4096):
            said += data
    os.close(reader)
    stdout = process.stdout.read()
    process.wait(timeout=600)
    return subprocess.CompletedProcess(command, process.returncode, stdout, said.decode(errors="replace"))


def test_cli_answers_2030_from_any_folder_with_the_passage_and_refuses_nvidia(tmp_path):
    # An empty folder: no corpus/ and no .qa/, so the packaged seed article is the corpus and the index
    # is built in the user's data directory.
    result = run_cli("ask", "Until when will the core partnership continue?", cwd=tmp_path, terminal=True)
    assert result.returncode == 0, result.stderr
    assert "2030" in result.stdout and "[1]" in result.stdout
    assert "core partnership will continue until" in " ".join(result.stdout.split())
    assert "microsoft-openai-partnership.md:1330-1545" in result.stdout
    assert re.search(r"^confidence 0\.\d\d$", result.stdout, re.M), result.stdout
    assert (tmp_path / "xdg-data" / "qa" / "index").is_dir() and not (tmp_path / ".qa").exists()
    # Why the first answer waits, step by step, on a terminal ...
    assert "indexing " in result.stderr and "the index is empty" in result.stderr and "loading the generator" in result.stderr

    result = run_cli("ask", "Who is the CEO of Nvidia?", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "loading the generator" not in result.stderr  # ... and quiet for a script
    answer = json.loads(result.stdout)
    assert answer["refused"] is True and answer["citations"] == []
    assert "confidence" in answer and "signals" in answer


def test_qa_ask_leaves_a_warm_server_for_the_next_question_when_asked_to(tmp_path, monkeypatch):
    """QA_KEEP_WARM: the first `qa ask` answers itself and starts a server without the UI; the next one hands
    its question there (a client that never loads a model), and `qa stop` ends it."""
    from qa.serving.handoff import read_record

    keep = {"QA_KEEP_WARM": "5"}
    result = run_cli("ask", "Until when will the core partnership continue?", cwd=tmp_path, **keep)
    assert result.returncode == 0 and "2030" in result.stdout, result.stderr
    assert "keeps the model warm" in result.stderr
    monkeypatch.chdir(tmp_path)  # the settings the CLI had there, to find the server's record
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    settings = Settings.from_env()
    try:
        deadline = time.monotonic() + 120
        while (record := read_record(settings)) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert record is not None
        env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg-data"), **keep}
        with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
            second = subprocess.Popen(
                [sys.executable, "-m", "qa", "ask", "--json", "In which month did Microsoft allow OpenAI to collaborate with Oracle?"],
                cwd=tmp_path, env=env, stdout=out, stderr=err,
            )
            _, status, usage = os.wait4(second.pid, 0)
        stderr = (tmp_path / "err").read_text()
        assert os.waitstatus_to_exitcode(status) == 0, stderr
        answer = json.loads((tmp_path / "out").read_text())
        assert "June" in answer["text"] and answer["citations"], stderr
        # The client loaded no model, the server answered: loading and answering cost several seconds of CPU,
        # handing over a fraction. (Not its peak memory: a child counts its parent's pages from before exec.)
        assert usage.ru_utime + usage.ru_stime < 2
        assert "keeps the model warm" not in stderr  # one is running: no second server
        assert run_cli("stop", cwd=tmp_path).returncode == 0
        deadline = time.monotonic() + 60
        while _alive(record.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(record.pid) and read_record(settings) is None
    finally:
        run_cli("stop", cwd=tmp_path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # a zombie has stopped
    except FileNotFoundError:  # reaped in between
        return False


@pytest.fixture(scope="module")
def mixed_corpus(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("mixed")
    (corpus / ARTICLE.name).write_text(ARTICLE.read_text())
    (corpus / "harbour-report.pdf").write_bytes(make_pdf(HARBOUR_PAGES, "Harbour Works report"))
    make_docx(corpus / "ferry.docx", None, ["The ferry terminal was designed by Ada Morland.", "It opened in 1961."], "Ferry terminal")
    return corpus


def test_a_pdf_answer_cites_its_page_and_an_exact_span(mixed_corpus, tmp_path):
    settings = Settings.from_env(corpus_dir=mixed_corpus, index_dir=tmp_path / "index")
    answer = ask("When did the Harbour Bridge open to traffic?", settings=settings)
    assert not answer.refused and "1932" in answer.text, answer.text
    [citation] = [c for c in answer.citations if c.source == "harbour-report.pdf"]
    assert citation.page == 2
    assert read_document(mixed_corpus / "harbour-report.pdf").text[citation.start : citation.end] == citation.text
    assert "p. 2" in str(answer) and answer.to_dict()["citations"][0]["page"] == 2

    answer = ask("Who designed the ferry terminal?", settings=settings)
    assert not answer.refused and "Ada Morland" in answer.text, answer.text
    assert {c.source for c in answer.citations} == {"ferry.docx"} and all(c.page is None for c in answer.citations)

    result = run_cli("--corpus-dir", str(mixed_corpus), "--index-dir", str(tmp_path / "index"),
                     "ask", "When did the Harbour Bridge open to traffic?", cwd=tmp_path)
    assert result.returncode == 0 and "harbour-report.pdf" in result.stdout and "p. 2" in result.stdout, result.stdout


def test_a_thousand_page_pdf_beside_the_article_is_answered_with_its_page(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / ARTICLE.name).write_text(ARTICLE.read_text())
    pages = [[f"Page {n} of the ledger records shipment {n * 7} of the harbour board."] for n in range(1, 1001)]
    pages[616] = ["The lighthouse keeper Ines Valdivia signed the storm report of the harbour board."]
    (corpus / "ledger.pdf").write_bytes(make_pdf(pages, "Harbour ledger"))
    settings = Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index")

    answer = ask("Who signed the storm report of the harbour board?", settings=settings)
    assert not answer.refused and "Ines Valdivia" in answer.text, answer.text
    [citation] = answer.citations
    assert (citation.source, citation.page) == ("ledger.pdf", 617)
    assert read_document(corpus / "ledger.pdf").text[citation.start : citation.end] == citation.text
    answer = ask("Until when will the core partnership continue?", settings=settings)
    assert "2030" in answer.text and {c.source for c in answer.citations} == {ARTICLE.name}
