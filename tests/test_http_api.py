"""The HTTP API through the clients people use (the `openai` package, LangChain's ChatOpenAI) and by hand for bad
input, over the real pipeline with a scripted generator: shapes, citations, errors, keys, limits, the corpus."""

from __future__ import annotations

import http.client as http_client
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from conftest import ScriptedJudge, says, yes
from fastapi.testclient import TestClient
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI

from qa.answering.chain import MAX_QUESTION_CHARS, Pipeline
from qa.domain import Answer
from qa.serving.http_api import create_app
from qa.serving.server import bound, listening

QUESTION = "Until when will the core partnership continue?"
DRAFT = "The core partnership will continue until 2030 [1]."


def make_pipeline(settings, embeddings, chat: BaseChatModel | None = None, supported: float = 1.0) -> Pipeline:
    return Pipeline(
        settings, embeddings, chat or says(DRAFT), judge=ScriptedJudge(yes(supported), yes(supported)),
        answerability=lambda question, texts: [supported] * len(texts),
    )


@pytest.fixture
def pipeline(settings, embeddings) -> Pipeline:
    return make_pipeline(settings, embeddings)


@pytest.fixture
def http(settings, pipeline):
    with TestClient(create_app(settings, pipeline)) as client:
        yield client


def client_of(http: TestClient, key: str = "unused", retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=retries)


def test_the_openai_client_gets_the_checked_answer_with_its_citations(http, corpus):
    c = client_of(http)
    assert [m.id for m in c.models.list()] == ["qa"]
    completion = c.chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}])
    assert completion.choices[0].message.content == DRAFT and completion.choices[0].finish_reason == "stop"
    checked = completion.model_extra["qa"]
    assert checked["refused"] is False and 0 < checked["confidence"] <= 1
    [citation] = checked["citations"]
    document = (corpus / citation["document"]).read_text()
    assert document[citation["start"]:citation["end"]] == citation["text"] and "2030" in citation["text"]
    assert citation["support"] == 1.0 and citation["number"] == 1


def test_a_streamed_answer_arrives_in_openai_chunks_and_ends_with_the_checks(http):
    chunks = list(client_of(http).chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}], stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks) == DRAFT
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].model_extra["qa"]["citations"][0]["number"] == 1
    assert len({ch.id for ch in chunks}) == 1


def test_a_draft_the_checks_refuse_is_corrected_in_the_stream_and_refused_whole(settings, embeddings):
    p = make_pipeline(settings, embeddings, supported=0.0)  # the judge finds the draft unsupported
    with TestClient(create_app(settings, p)) as http:
        c = client_of(http)
        streamed = list(c.chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}], stream=True))
        whole = c.chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}])
    text = "".join(ch.choices[0].delta.content or "" for ch in streamed)
    assert text.startswith(DRAFT) and text.endswith("(Checked against the documents: I cannot answer that from the documents.)")
    assert streamed[-1].model_extra["qa"]["refused"] is True
    assert whole.choices[0].message.content == "I cannot answer that from the documents." and whole.model_extra["qa"]["refused"]


def test_langchain_chat_openai_pointed_at_it_answers_and_streams(http):
    llm = ChatOpenAI(base_url="http://testserver/v1", api_key="unused", model="qa", http_client=http, max_retries=0)
    assert llm.invoke(QUESTION).content == DRAFT
    assert "".join(chunk.content for chunk in llm.stream(QUESTION)) == DRAFT


def test_earlier_messages_make_a_follow_up_understood(settings, embeddings):
    chat = says(lambda messages: "When will the core partnership end?" if "Last question:" in messages[-1].content else DRAFT)
    with TestClient(create_app(settings, make_pipeline(settings, embeddings, chat))) as http:
        messages = [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "What did Microsoft say about the core partnership?"},
            {"role": "assistant", "content": [{"type": "text", "text": "That it continues [1]."}]},
            {"role": "user", "content": "Until when?"},
        ]
        reply = client_of(http).chat.completions.create(model="qa", messages=messages)
    assert reply.choices[0].message.content == DRAFT
    rewrite = next(m[-1].content for m in chat.calls if "Last question:" in m[-1].content)
    assert "What did Microsoft say about the core partnership?" in rewrite and "That it continues" in rewrite


GOOD = {"model": "qa", "messages": [{"role": "user", "content": QUESTION}]}
BAD = [
    # body, status, words of the message, the parameter named
    (b"{not json", 400, "not valid JSON", None),
    (b"[1, 2]", 400, "body", None),
    ({"model": "qa", "messages": []}, 400, "at least 1 item", "messages"),
    ({"model": "qa", "messages": "hello"}, 400, "valid list", "messages"),
    ({"model": "qa", "messages": [{"role": "user", "content": 5}]}, 400, "text or a list of content parts", "messages.0.content"),
    ({"model": "qa", "messages": [{"role": "robot", "content": "hi"}]}, 400, "'system', 'developer', 'user'", "messages.0.role"),
    ({"model": "qa", "messages": [{"role": "user", "content": QUESTION}], "stream": "often"}, 400, "valid boolean", "stream"),
    ({"messages": [{"role": "user", "content": QUESTION}]}, 400, "Field required", "model"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": QUESTION}]}, 404, "'gpt-4o' does not exist", "model"),
    ({**GOOD, "temperatur": 0.2}, 400, "unknown parameter temperatur", None),
    ({**GOOD, "tools": [{"type": "function", "function": {"name": "f"}}]}, 400, "tools (qa calls no tools)", None),
    ({**GOOD, "n": 3}, 400, "n other than 1", None),
    ({**GOOD, "stop": ["\n"]}, 400, "stop", None),
    ({**GOOD, "response_format": {"type": "json_object"}}, 400, "response_format", None),
    ({**GOOD, "top_k": 0}, 400, "QA_TOP_K must be between 1 and 50", None),
    ({**GOOD, "verify": "maybe"}, 400, "'drop', 'mark' or 'off'", "verify"),
    ({"model": "qa", "messages": [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "Soon."}]}, 400, "last message must be the user's question", None),
    ({"model": "qa", "messages": [{"role": "user", "content": " \n "}]}, 400, "the question is empty", None),
    ({"model": "qa", "messages": [{"role": "user", "content": "why " * MAX_QUESTION_CHARS}]}, 400, f"the limit is {MAX_QUESTION_CHARS}", None),
    (b"x" * (10 * 1024 * 1024), 413, "larger than 1 MB", None),
]


@pytest.mark.parametrize(("body", "status", "words", "param"), BAD)
def test_bad_requests_get_their_status_and_one_line_and_the_next_is_answered(http, body, status, words, param):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    reply = http.post("/v1/chat/completions", content=content, headers={"Content-Type": "application/json"})
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert words in error["message"] and "\n" not in error["message"] and "Traceback" not in reply.text
    assert error["param"] == param and error["type"]
    assert http.post("/v1/chat/completions", json=GOOD).json()["choices"][0]["message"]["content"] == DRAFT


def test_parameters_that_do_not_apply_are_ignored_as_documented():
    from qa.serving.openai_chat import IGNORED, REFUSED

    documented = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text()
    assert all(f"`{name}`" in documented for name in (*IGNORED, *REFUSED))


def test_ignored_parameters_change_nothing(http):
    reply = http.post("/v1/chat/completions", json={**GOOD, "temperature": 1.7, "max_tokens": 5, "user": "ada", "seed": 3,
                                                   "stream_options": {"include_usage": True}, "tools": [], "logprobs": False})
    assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"] == DRAFT


def test_a_large_upload_is_refused_before_it_is_read(http):
    reply = http.post("/v1/ask", content=b"{" + b" " * (2 * 1024 * 1024) + b"}", headers={"Content-Type": "application/json"})
    assert reply.status_code == 413


def test_ask_gives_the_whole_answer_and_search_the_passages(http, corpus):
    answer = Answer.from_dict(http.post("/v1/ask", json={"question": QUESTION, "top_k": 3, "verify": "mark"}).json())
    assert answer.text == DRAFT and answer.citations[0].source == "microsoft-openai-partnership.md" and len(answer.passages) <= 3
    found = http.post("/v1/search", json={"query": "Stargate agreements", "top_k": 2}).json()["data"]
    assert 1 <= len(found) <= 2 and all(isinstance(p["score"], float) for p in found)
    document = (corpus / found[0]["document"]).read_text()
    assert all(document[p["start"]:p["end"]] == p["text"] for p in found)
    assert http.post("/v1/search", json={"query": "x", "k": 2}).status_code == 400  # a misspelt option is not ignored


def test_the_documents_can_be_listed_added_and_removed(http, corpus, tmp_path):
    listed = http.get("/v1/documents").json()["data"]
    assert [d["id"] for d in listed] == ["microsoft-openai-partnership.md"] and listed[0]["chunks"] > 0
    added = http.post("/v1/documents", files=[("files", ("../Harbour notes.md", b"# Harbour\n\nThe harbour opened in 1901.\n"))]).json()
    assert added["added"] == ["Harbour_notes.md"] and {d["id"] for d in added["data"]} == {"microsoft-openai-partnership.md", "Harbour_notes.md"}
    assert (corpus / "Harbour_notes.md").exists()
    refused = http.post("/v1/documents", files=[("files", ("tool.exe", b"MZ\x00\x01"))])
    assert refused.status_code == 400 and "unsupported type" in refused.json()["error"]["message"]
    removed = http.delete("/v1/documents/Harbour_notes.md").json()
    assert removed["deleted"] and Path(removed["moved_to"]) == corpus / ".trash" / "Harbour_notes.md"
    assert http.delete("/v1/documents/Harbour_notes.md").status_code == 404
    assert [d["id"] for d in http.get("/v1/documents").json()["data"]] == ["microsoft-openai-partnership.md"]


def test_a_read_only_corpus_is_listed_but_not_changed(settings, pipeline, corpus):
    with TestClient(create_app(settings.with_(ui_read_only=True), pipeline)) as http:
        assert http.get("/v1/documents").status_code == 200
        upload = http.post("/v1/documents", files=[("files", ("a.md", b"# A\n\nText.\n"))])
        removal = http.delete("/v1/documents/microsoft-openai-partnership.md")
    for reply in (upload, removal):
        assert reply.status_code == 403 and "read-only" in reply.json()["error"]["message"]
    assert not (corpus / "a.md").exists() and (corpus / "microsoft-openai-partnership.md").exists()


def test_with_keys_every_route_wants_one(settings, pipeline, tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("# the team\nkey-from-file  # ada\n\n")
    with TestClient(create_app(settings.with_(api_keys="k1, k2", api_keys_file=keys), pipeline)) as http:
        assert http.get("/v1/models").status_code == 401
        wrong = http.get("/v1/models", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
        assert "API key" in wrong.json()["error"]["message"]
        for key in ("k1", "k2", "key-from-file"):
            assert http.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        with pytest.raises(openai.AuthenticationError):
            client_of(http, "nope").chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}])
        assert client_of(http, "k2").chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}]).choices


def test_each_key_has_its_own_rate(settings, pipeline):
    with TestClient(create_app(settings.with_(api_keys="k1,k2", api_requests_per_minute=2), pipeline)) as http:
        one, two = ({"Authorization": f"Bearer {k}"} for k in ("k1", "k2"))
        assert [http.get("/v1/models", headers=one).status_code for _ in range(3)] == [200, 200, 429]
        limited = http.get("/v1/models", headers=one)
        assert limited.json()["error"]["type"] == "rate_limit_error" and 50 <= int(limited.headers["Retry-After"]) <= 60
        assert http.get("/v1/models", headers=two).status_code == 200


class HeldChat(BaseChatModel):
    """A generator that writes its answer a word at a time, each word once `step` is set; says when it `started`,
    records being stopped."""

    step: Any
    words: list[str]
    started: Any = None
    stopped: list[bool] = []

    @property
    def _llm_type(self) -> str:
        return "held"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessageChunk(content="".join(c.text for c in self._stream(messages))))])

    def _stream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any):
        if self.started is not None:
            self.started.set()
        try:
            for word in self.words:
                assert self.step.wait(30)
                yield ChatGenerationChunk(message=AIMessageChunk(content=word))
        except GeneratorExit:
            self.stopped.append(True)
            raise


def test_a_full_line_answers_503_with_retry_after_and_frees_up(settings, embeddings):
    step, started = threading.Event(), threading.Event()
    words = ["The core partnership will continue ", "until 2030 [1]."]
    p = make_pipeline(settings, embeddings, HeldChat(step=step, started=started, words=words, stopped=[]))
    p.ensure_index()
    with TestClient(create_app(settings.with_(api_queue_size=0), p)) as http:
        first: list[httpx.Response] = []
        asking = threading.Thread(target=lambda: first.append(http.post("/v1/chat/completions", json=GOOD)))
        asking.start()
        assert started.wait(10)  # the first question holds the one place
        busy = http.post("/v1/chat/completions", json=GOOD)
        assert busy.status_code == 503 and int(busy.headers["Retry-After"]) >= 1, busy.text
        assert busy.json()["error"]["code"] == "server_busy"
        assert http.get("/v1/models").status_code == 200  # what needs no generator is not in the line
        step.set()
        asking.join(10)
        assert first[0].status_code == 200
        assert http.post("/v1/chat/completions", json=GOOD).status_code == 200


def test_a_reader_that_goes_away_mid_stream_stops_the_generation_and_frees_its_place(settings, embeddings):
    step = threading.Event()
    chat = HeldChat(step=step, words=["The core ", "partnership ", "will continue ", "until 2030 [1]."], stopped=[])
    p = make_pipeline(settings, embeddings, chat)
    p.ensure_index()
    app = create_app(settings.with_(api_queue_size=0), p)
    with listening(app, bound("127.0.0.1", 0)) as url:
        port = int(url.rsplit(":", 1)[1])
        step.set()
        connection = http_client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("POST", "/v1/chat/completions", json.dumps({**GOOD, "stream": True}), {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200 and response.fp.readline()  # the stream has begun
        step.clear()  # the generator waits for its next word
        connection.sock.shutdown(socket.SHUT_RDWR)
        connection.close()
        step.set()
        deadline = time.monotonic() + 10
        while not chat.stopped and time.monotonic() < deadline:
            time.sleep(0.05)
        assert chat.stopped, "the generation went on for a reader that had gone"
        answered = httpx.post(f"{url}/v1/chat/completions", json=GOOD, timeout=10)  # a line of one: the place is free
    assert answered.status_code == 200 and "2030" in answered.json()["choices"][0]["message"]["content"]


def test_the_api_describes_itself_in_openapi(http):
    schema = http.get("/v1/openapi.json").json()
    assert {"/v1/models", "/v1/chat/completions", "/v1/ask", "/v1/search", "/v1/documents", "/v1/documents/{document}"} <= set(schema["paths"])
    assert {"ChatRequest", "ChatCompletion", "Answer", "Passages", "Error"} <= set(schema["components"]["schemas"])
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    chat = schema["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert {"200", "400", "404", "503"} <= set(chat) and "422" not in chat  # invalid bodies are answered 400
    unknown = http.get("/v1/embeddings")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_endpoint"
    wrong_method = http.get("/v1/chat/completions")
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "POST"
    assert wrong_method.json()["error"]["message"] == "/v1/chat/completions takes POST, not GET"
