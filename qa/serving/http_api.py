"""The HTTP API under /v1: OpenAI-compatible chat completions with citations, the whole Answer, search, and the
documents. A thin layer over the same Pipeline the UI and `ask()` use (docs/api.md)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

import anyio
from fastapi import APIRouter, Depends, FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.answering.chain import AnswerStream, Pipeline, clean_question
from qa.domain import Answer
from qa.errors import BackendError, CorpusError, IndexStoreError, ModelFileError, QAError
from qa.serving.access import Admission, api_keys, key_matches
from qa.serving.api_schema import ChatCompletion, Documents, Ingested, Passages, Removed, documented
from qa.serving.cited import found
from qa.serving.corpus import Upload, add_uploads, remove_document
from qa.serving.openai_chat import MODEL, ChatRequest, Completion, correction, model_card
from qa.serving.ratelimit import RateLimit
from qa.settings import Settings, Verify
from qa.store.ingestion import ingest

# A question, its history and options fit in far less; only uploads are bigger (each file at most 50 MB).
MAX_JSON_BYTES = 1024 * 1024
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
T = TypeVar("T")


class ApiError(Exception):
    """An error the API answers with: its status, one line, and OpenAI's error fields."""

    def __init__(self, status: int, message: str, *, code: str | None = None, param: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.headers = status, message, code, param, headers or {}


_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
          405: "invalid_request_error", 409: "conflict_error", 413: "invalid_request_error", 429: "rate_limit_error"}
# A QAError's kind decides its status: the request (400), the corpus's state (409), the store or model (503, 502, 500).
_STATUS = ((CorpusError, 409), (IndexStoreError, 503), (BackendError, 502), (ModelFileError, 500), (ValueError, 400))


def error_body(status: int, message: str, code: str | None = None, param: str | None = None) -> dict:
    """OpenAI's error shape, which its clients read: {"error": {"message", "type", "param", "code"}}."""
    return {"error": {"message": " ".join(message.split()), "type": _TYPES.get(status, "server_error"), "param": param, "code": code}}


def status_of(error: QAError) -> int:
    return next((status for kind, status in _STATUS if isinstance(error, kind)), 500)


def _errors(app: FastAPI) -> None:
    """Every error is JSON with one line and the right status; never a traceback."""

    def reply(status: int, message: str, code: str | None = None, param: str | None = None, headers: dict | None = None):
        return JSONResponse(error_body(status, message, code, param), status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError):
        return reply(e.status, e.message, e.code, e.param, e.headers)

    @app.exception_handler(QAError)
    async def qa_error(request: Request, e: QAError):
        return reply(status_of(e), str(e), type(e).__name__)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError):
        first = e.errors()[0]
        if first.get("type") == "json_invalid":
            return reply(400, "the body is not valid JSON", "invalid_json")
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        return reply(400, f"{where or 'body'}: {first.get('msg', 'invalid')}", "invalid_value", where or None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException):
        return reply(e.status_code, str(e.detail), headers=getattr(e, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, e: Exception):
        return reply(500, f"internal error: {type(e).__name__}: {' '.join(str(e).split())}"[:500])


class BodyLimit:
    """A body over its limit is answered 413 without being kept: JSON under 1 MB, uploads under 64 MB. The rest of
    it is read and dropped first (up to DRAIN_BYTES), so that the client, still sending, reads the answer instead of
    a reset connection. Only the API's paths; the UI has its own limits."""

    DRAIN_BYTES = 128 * 1024 * 1024

    def __init__(self, app: Callable) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            return await self.app(scope, receive, send)
        limit = MAX_UPLOAD_BYTES if scope["path"].rstrip("/") == "/v1/documents" else MAX_JSON_BYTES
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await self._too_large(receive, send, limit)
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge(message.get("more_body", False))
            return message

        started = False

        async def sending(message: dict) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, counted, sending)
        except _TooLarge as e:
            if not started:
                await self._too_large(receive if e.args[0] else None, send, limit)

    async def _too_large(self, receive: Callable | None, send: Callable, limit: int) -> None:
        drained, more = 0, receive is not None
        while more and drained < self.DRAIN_BYTES:
            message = await receive()
            drained += len(message.get("body", b""))
            more = message.get("type") == "http.request" and message.get("more_body", False)
        body = json.dumps(error_body(413, f"the body is larger than {limit // (1024 * 1024)} MB", "body_too_large")).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class AskRequest(BaseModel):
    """The body of POST /v1/ask: a question and the options of `qa.ask`."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="the question, at most 2,000 characters")
    top_k: int | None = Field(None, description="passages retrieved at most (QA_TOP_K)")
    verify: Verify | None = Field(None, description="judge each sentence: drop, mark or off (QA_VERIFY)")
    history: list[tuple[str, str]] = Field(default_factory=list, description="earlier (question, answer) pairs, for follow-ups")


class SearchRequest(BaseModel):
    """The body of POST /v1/search: what to look for, and how many passages at most."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(description="what to look for, at most 2,000 characters")
    top_k: int | None = Field(None, description="passages at most (QA_TOP_K)")


class Service:
    """What the routes share: the pipeline, the keys, the limits and the line in front of the generator."""

    def __init__(self, settings: Settings, pipeline: Pipeline, on_activity: Callable[[int], None] | None = None):
        self.settings, self.pipeline = settings, pipeline
        self.keys = api_keys(settings)
        self.requests = RateLimit(settings.api_requests_per_minute)
        self.uploads = RateLimit(settings.ui_uploads_per_minute)
        self.admission = Admission(settings.api_queue_size, on_activity)

    def client(self, request: Request, credentials: HTTPAuthorizationCredentials | None) -> str:
        """Who asks (a key's fingerprint, or without keys the address), once the key and the rate allow it."""
        if self.keys:
            if credentials is None or not key_matches(credentials.credentials, self.keys):
                raise ApiError(401, "a valid API key is needed: Authorization: Bearer KEY", code="invalid_api_key",
                               headers={"WWW-Authenticate": "Bearer"})
            who = "key " + hashlib.sha256(credentials.credentials.encode()).hexdigest()[:12]
        else:
            who = request.client.host if request.client else "unknown"
        request.state.client = who
        wait = self.requests.take(who)
        if wait:
            raise ApiError(429, f"too many requests: at most {self.settings.api_requests_per_minute} a minute; try again in "
                           f"{math.ceil(wait)} s", code="rate_limit_exceeded", headers={"Retry-After": str(math.ceil(wait))})
        return who

    def enter(self) -> float:
        """A place in line for the generator, or 503 at once with when to come back; the time it was taken."""
        if not self.admission.enter():
            after = self.admission.retry_after()
            raise ApiError(503, f"busy: {self.admission.capacity} questions are being answered or waiting; try again in {after} s",
                           code="server_busy", headers={"Retry-After": str(after)})
        return time.monotonic()

    async def answered(self, work: Callable[[], T]) -> T:
        """`work` (an answer) run off the event loop, in line for the generator."""
        started, done = self.enter(), False
        try:
            result = await anyio.to_thread.run_sync(work)
            done = True
            return result
        finally:
            self.admission.leave(time.monotonic() - started if done else None)

    def writable(self) -> None:
        if self.settings.ui_read_only:
            raise ApiError(403, "the corpus is read-only here (QA_UI_READ_ONLY): documents cannot be added or removed", code="read_only")


def _sse(data: dict | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


_END = object()


def _next_piece(stream: AnswerStream) -> Any:
    return next(stream, _END)


async def _events(service: Service, stream: AnswerStream, first: Any, completion: Completion, started: float) -> AsyncIterator[str]:
    """The draft as it is written, in OpenAI's chunks; then, if the checks changed it, the checked answer said as
    such; then the last chunk with the `qa` field, and [DONE]. A reader that goes away stops the generation."""
    parts: list[str] = []
    finished = False
    try:
        yield _sse(completion.chunk({"role": "assistant", "content": ""}))
        piece = first
        while piece is not _END:
            parts.append(piece)
            yield _sse(completion.chunk({"content": piece}))
            piece = await anyio.to_thread.run_sync(_next_piece, stream)
        answer = await anyio.to_thread.run_sync(stream.answer)
        note = correction("".join(parts), answer)
        if note:
            yield _sse(completion.chunk({"content": note}))
        yield _sse(completion.chunk({}, "stop", answer))
        finished = True
    except QAError as e:
        yield _sse(error_body(status_of(e), str(e), type(e).__name__))
    finally:
        if not finished:
            stream.close()  # the model is freed at once, not when this generator is collected
        service.admission.leave(time.monotonic() - started if finished else None)
    yield _sse("[DONE]")


def routes(service: Service) -> APIRouter:
    bearer = HTTPBearer(auto_error=False, description="an API key (QA_API_KEYS); not needed on loopback without keys")

    def client(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> str:
        return service.client(request, credentials)

    router = APIRouter(prefix="/v1", dependencies=[Depends(client)])
    _answering(router, service)
    _documents(router, service)
    _unknown(router)  # last: it matches every path the others do not
    return router


def _answering(router: APIRouter, service: Service) -> None:
    p, settings = service.pipeline, service.settings

    @router.get("/models", summary="The one model, qa")
    async def models() -> dict:
        return {"object": "list", "data": [model_card()]}

    @router.get("/models/{model}", summary="The model, if it is qa")
    async def model(model: str) -> dict:
        _known_model(model)
        return model_card()

    @router.post("/chat/completions", summary="A checked, cited answer in OpenAI's shape, streamed or not",
                 responses=documented(ChatCompletion, 400, 404, 409, 413, 429, 502, 503))
    async def chat_completions(body: ChatRequest):
        _known_model(body.model)
        problem = body.unusable()
        if problem:
            raise ApiError(400, problem, code="unsupported_parameter")
        text, history = body.conversation()
        question = clean_question(text)
        settings.with_(top_k=body.top_k, verify=body.verify)  # a bad option is a 400 before the line, not after
        completion = Completion()
        if not body.stream:
            answer = await service.answered(lambda: p.ask(question, body.top_k, body.verify, history))
            return completion.whole(answer)
        started = service.enter()
        stream = p.ask_stream(question, body.top_k, body.verify, history)
        try:  # the first piece before the response starts: a failure before any text still gets its own status
            first = await anyio.to_thread.run_sync(_next_piece, stream)
        except BaseException:
            stream.close()
            service.admission.leave()
            raise
        return StreamingResponse(_events(service, stream, first, completion, started), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @router.post("/ask", summary="The whole Answer, as `qa ask --json` prints it", responses=documented(Answer, 400, 409, 413, 429, 502, 503))
    async def ask(body: AskRequest) -> dict:
        question = clean_question(body.question)
        settings.with_(top_k=body.top_k, verify=body.verify)
        answer = await service.answered(lambda: p.ask(question, body.top_k, body.verify, body.history))
        return answer.to_dict()

    @router.post("/search", summary="The passages retrieval returns for a query, with their spans and scores; no generator",
                 responses=documented(Passages, 400, 409, 413, 429))
    async def search(body: SearchRequest) -> dict:
        passages = await anyio.to_thread.run_sync(lambda: p.search(body.query, body.top_k))
        return {"object": "list", "data": [found(x) for x in passages]}


def _documents(router: APIRouter, service: Service) -> None:
    p, settings = service.pipeline, service.settings

    @router.get("/documents", summary="The documents in the index", responses=documented(Documents, 429))
    async def documents() -> dict:
        return {"object": "list", "data": await anyio.to_thread.run_sync(lambda: _listed(p))}

    @router.post("/documents", summary="Upload documents and index them (refused when the corpus is read-only)",
                 responses=documented(Ingested, 400, 403, 413, 429))
    async def upload(request: Request, files: list[UploadFile] = File(description="one or more documents")) -> dict:
        service.writable()
        wait = service.uploads.take(request.state.client, len(files))
        if wait:
            after = "" if math.isinf(wait) else f"; try again in {math.ceil(wait)} s"
            raise ApiError(429, f"too many uploads: at most {settings.ui_uploads_per_minute} files a minute{after}", code="rate_limit_exceeded",
                           headers={"Retry-After": str(60 if math.isinf(wait) else math.ceil(wait))})
        with tempfile.TemporaryDirectory(prefix="qa-upload-") as folder:
            uploads = []
            for i, f in enumerate(files):
                path = Path(folder) / f"{i}-{Path(f.filename or 'document').name}"
                path.write_bytes(await f.read())
                uploads.append(Upload(f.filename or "document", path))
            saved, errors = add_uploads(settings, uploads)
            if not saved:
                raise ApiError(400, "; ".join(errors) or "no file given", code="invalid_document")
            report = await anyio.to_thread.run_sync(lambda: ingest(p.index, saved))
        return {"added": report.added, "updated": report.updated, "unchanged": report.unchanged,
                "failed": [*errors, *report.failed.values()], "data": _listed(p)}

    @router.delete("/documents/{document:path}", summary="Remove a document (its file moves to the corpus's .trash)",
                   responses=documented(Removed, 403, 404, 429))
    async def remove(document: str) -> dict:
        service.writable()
        if document not in await anyio.to_thread.run_sync(p.index.documents):
            raise ApiError(404, f"no document {document!r} in the index (GET /v1/documents lists them)", code="document_not_found")
        moved = await anyio.to_thread.run_sync(lambda: remove_document(settings, p.index, document))
        return {"id": document, "object": "document", "deleted": True, "moved_to": str(moved) if moved else None}


def _unknown(router: APIRouter) -> None:
    @router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def unknown(request: Request, rest: str):
        allowed = sorted({m for r in router.routes if r.path_regex.match(f"/v1/{rest}") and r.name != "unknown" for m in r.methods})
        if allowed:
            raise ApiError(405, f"/v1/{rest} takes {' or '.join(allowed)}, not {request.method}", code="method_not_allowed",
                           headers={"Allow": ", ".join(allowed)})
        raise ApiError(404, f"no such endpoint /v1/{rest} (see /v1/docs)", code="unknown_endpoint")


def _known_model(model: str) -> None:
    if model != MODEL:
        raise ApiError(404, f"the model {model!r} does not exist; this server has one: {MODEL!r}", code="model_not_found", param="model")


def _listed(p: Pipeline) -> list[dict]:
    with contextlib.suppress(CorpusError):  # an index not yet built is built from the corpus folder, as for a question
        p.ensure_index()
    return [{"id": source, "object": "document", **entry} for source, entry in p.index.documents().items()]


def create_app(settings: Settings, pipeline: Pipeline, on_activity: Callable[[int], None] | None = None) -> FastAPI:
    """The API as an app of its own; the UI mounts beside it (qa.serving.ui.mount). `on_activity` is told of each
    question that enters (+1) and leaves (-1) the line, so an idle server knows it is in use."""
    app = FastAPI(
        title="qa", version=version("qa"), description="Answers from your documents, every claim cited and checked (docs/api.md).",
        openapi_url="/v1/openapi.json", docs_url="/v1/docs", redoc_url=None,
    )
    _errors(app)
    app.add_middleware(BodyLimit)
    app.include_router(routes(Service(settings, pipeline, on_activity)))
    built = app.openapi

    def schema() -> dict:
        """FastAPI's schema, without the 422 it lists for every body: an invalid body is answered 400 here."""
        if app.openapi_schema is None:
            for operation in (op for path in built()["paths"].values() for op in path.values()):
                operation.get("responses", {}).pop("422", None)
        return app.openapi_schema

    app.openapi = schema
    return app
