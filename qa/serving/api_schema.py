"""What the HTTP API's answers look like, for its OpenAPI schema (`/v1/docs`). Documentation only: the routes
build their JSON themselves (qa.serving.openai_chat, qa.serving.cited), and these models never filter it."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CitationOut(BaseModel):
    number: int = Field(description="the n of the [n] marker in the text")
    document: str = Field(description="the document's name in the corpus")
    title: str
    start: int = Field(description="where the passage starts in the document's text")
    end: int = Field(description="where it ends: text[start:end] is the passage")
    page: int | None = Field(description="the PDF page, null for formats without pages")
    text: str = Field(description="the passage")
    support: float | None = Field(description="the judge's lowest score among the sentences citing it; null unverified")


class Checked(BaseModel):
    """The extra `qa` field: what the checks found."""

    text: str = Field(description="the checked answer (a streamed draft may differ)")
    refused: bool = Field(description="the documents do not answer the question")
    confidence: float | None = Field(description="calibrated P(the answer is right); null unverified")
    citations: list[CitationOut]
    dropped: list[str] = Field(description="sentences the checks removed as unsupported")


class Message(BaseModel):
    role: str = "assistant"
    content: str = Field(description="the answer with its [n] markers, or the refusal")


class Choice(BaseModel):
    index: int = 0
    message: Message
    finish_reason: str = "stop"


class ChatCompletion(BaseModel):
    """OpenAI's chat.completion; streamed, chat.completion.chunk events whose last carries `qa`, then [DONE]."""

    id: str
    object: str = "chat.completion"
    created: int
    model: str = "qa"
    choices: list[Choice]
    usage: None = Field(None, description="always null: token counts are not reported")
    qa: Checked


class PassageOut(BaseModel):
    id: str
    text: str
    document: str
    title: str
    start: int
    end: int
    page: int | None
    score: float = Field(description="the retrieval score")


class Passages(BaseModel):
    object: str = "list"
    data: list[PassageOut]


class DocumentOut(BaseModel):
    id: str = Field(description="the document's name in the corpus, as DELETE /v1/documents/{id} takes it")
    object: str = "document"
    title: str
    chunks: int


class Documents(BaseModel):
    object: str = "list"
    data: list[DocumentOut]


class Ingested(BaseModel):
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    failed: list[str] = Field(description="one line per file refused or not read")
    data: list[DocumentOut] = Field(description="the documents after the upload")


class Removed(BaseModel):
    id: str
    object: str = "document"
    deleted: bool = True
    moved_to: str | None = Field(description="where the file went (the corpus folder's .trash), if it moved")


class ErrorDetail(BaseModel):
    message: str = Field(description="one line")
    type: str
    param: str | None
    code: str | None


class Error(BaseModel):
    """Every error, in OpenAI's shape."""

    error: ErrorDetail


def documented(model: type, *statuses: int) -> dict:
    """A route's `responses`: its answer's shape (a model or a dataclass) and the error shape for each status it
    may give."""
    return {200: {"model": model}, **{status: {"model": Error} for status in statuses}}
