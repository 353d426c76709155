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

from qa.embeddings import default_embeddings
from qa.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT / "corpus" / "microsoft-openai-partnership.md"


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A PDF with these lines on these pages (Helvetica 11 pt), built by hand so tests need no PDF writer."""
    def literal(text: str) -> str:
        return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"

    n = len(pages)
    page_ids = [4 + 2 * i for i in range(n)]  # 1 catalog, 2 pages, 3 font, then a page and its content each
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (" ".join(f"{i} 0 R" for i in page_ids).encode(), n),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, lines in enumerate(pages):
        ops = " ".join(f"{literal(line)} Tj 0 -16 Td" for line in lines)
        stream = f"BT /F1 11 Tf 72 740 Td {ops} ET".encode("latin-1")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R /Resources << /Font << /F1 3 0 R >> >> >>"
            % (page_ids[i] + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    info = b""
    if title:
        objects.append(b"<< /Title %s >>" % literal(title).encode("latin-1"))
        info = b" /Info %d 0 R" % len(objects)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info, xref)
    return bytes(out)


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
