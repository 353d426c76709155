"""Shared fixtures: the real embedding model, fake chat models for unit tests, a scratch corpus and index."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from bench.pdf import make_pdf  # noqa: F401 - shared with the bench; tests import it from here
from qa.answering.judge import Judge
from qa.models.embeddings import default_embeddings
from qa.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT / "corpus" / "microsoft-openai-partnership.md"

# Questions on the article with a word their right answer holds (a refusal for the one it cannot answer):
# the load tests ask them many times over and check every answer.
ARTICLE_QUESTIONS = {
    "Until when will the core partnership continue?": "2030",
    "In which month did Microsoft allow OpenAI to collaborate with Oracle?": "June",
    "On which platform will the OpenAI API continue to operate exclusively?": "Azure",
    "Which companies did OpenAI announce agreements with under the Stargate protocol?": "Oracle",
    "Who is the CEO of Nvidia?": "cannot answer",
    "Where did Microsoft confirm the change?": "blog",
}

# A three-page report whose answer ("1932") is on page 2 only.
HARBOUR_PAGES = [
    ["Harbour Works annual report.", "This report covers the works of the harbour board over the year."],
    ["The Harbour Bridge opened to traffic in 1932.", "It carries eight lanes of road traffic and two rail lines."],
    ["The board met four times.", "Its accounts were audited in March."],
]


def make_docx(path: Path, title: str | None, paragraphs: list[str], heading: str | None = None) -> Path:
    """A Word file with an optional heading (style "Heading 1") and these paragraphs."""
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    if heading:
        document.add_heading(heading, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    document.save(str(path))
    return path


class ScriptedChat(BaseChatModel):
    """A chat model whose reply is computed from the messages: lets tests decide what the 'LLM' says."""

    reply: Callable[[list[BaseMessage]], str]
    calls: list[list[BaseMessage]] = []

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
        self.calls.append(messages)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.reply(messages)))])


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by playwright (never a downloaded browser)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (see .ci/run)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def embeddings():
    return default_embeddings()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(ARTICLE, folder / ARTICLE.name)
    return folder


@pytest.fixture
def settings(tmp_path: Path, corpus: Path) -> Settings:
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "index", cache_dir=ROOT / ".qa" / "cache-unused")


def scripted(reply: Callable[[list[BaseMessage]], str]) -> ScriptedChat:
    return ScriptedChat(reply=reply, calls=[])


class ScriptedJudge(Judge):
    """The judge role, scripted by its two checks rather than by prompt text: `states(claim, evidence)` and
    `asked(question, evidence)` give P(yes). The deterministic checks in front of the model run as in the
    real judge; every model check is recorded in `claims` and `questions`."""

    def __init__(
        self,
        states: Callable[[str, str], float] = lambda claim, evidence: 1.0,
        asked: Callable[[str, str], float] = lambda question, evidence: 1.0,
    ):
        super().__init__(scripted(lambda m: "unused"))
        self._states, self._asked = states, asked
        self.claims: list[tuple[str, str]] = []
        self.questions: list[tuple[str, str]] = []

    def states(self, claim: str, evidence: str) -> float:
        self.claims.append((claim, evidence))
        return self._states(claim, evidence)

    def answers_question(self, question: str, evidence: list[str]) -> float:
        self.questions.append((question, "\n".join(evidence)))
        return self._asked(question, "\n".join(evidence))


def says(answer: str | Callable[[list[BaseMessage]], str]) -> ScriptedChat:
    """The answer role, scripted: always `answer` (or what a function of the messages returns)."""
    return scripted(answer if callable(answer) else lambda m: answer)


def yes(p: float = 1.0) -> Callable[[str, str], float]:
    """A judge check that answers P(yes) = p whatever it is asked."""
    return lambda asked, evidence: p
