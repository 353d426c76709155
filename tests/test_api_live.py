"""A live `qa serve` with the real generator, reached as other programs reach it: the `openai` client streamed and
not, LangChain's ChatOpenAI, bad requests, and a crowd of API clients; and `qa mcp` started by the `mcp` SDK's own
stdio client."""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import urllib.request

import anyio
import openai
import pytest
from conftest import ARTICLE
from langchain_openai import ChatOpenAI
from live_server import running_server

pytestmark = pytest.mark.slow

QUESTION = "Until when will the core partnership continue?"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("api"), QA_API_QUEUE_SIZE="4") as live:
        yield live


def client_of(server, retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}v1", api_key="unused", max_retries=retries, timeout=300)


def test_the_openai_client_gets_a_cited_answer_streamed_and_not(server):
    c = client_of(server)
    whole = c.chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}])
    assert "2030" in whole.choices[0].message.content and "[1]" in whole.choices[0].message.content
    checked = whole.model_extra["qa"]
    assert not checked["refused"] and checked["confidence"] >= 0.5
    cited = checked["citations"][0]
    assert (server.corpus / cited["document"]).read_text()[cited["start"]:cited["end"]] == cited["text"]
    chunks = list(c.chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}], stream=True))
    streamed = "".join(ch.choices[0].delta.content or "" for ch in chunks)
    assert "2030" in streamed and chunks[-1].model_extra["qa"]["text"] == whole.choices[0].message.content


def test_langchain_chat_openai_pointed_at_it(server):
    """Invoked on the real model; its streaming and refusals are the quick tier's (tests/test_http_api.py)."""
    llm = ChatOpenAI(base_url=f"{server.url}v1", api_key="unused", model="qa", max_retries=0, timeout=300)
    assert "2030" in llm.invoke(QUESTION).content


def _post(server, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(f"{server.url}v1/chat/completions", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{oops", 400),
        (json.dumps({"model": "qa", "messages": []}).encode(), 400),
        (json.dumps({"model": "qa", "messages": [{"role": "user", "content": ["a"]}]}).encode(), 400),
        (json.dumps({"model": "llama", "messages": [{"role": "user", "content": QUESTION}]}).encode(), 404),
        (json.dumps({"model": "qa", "messages": [{"role": "user", "content": QUESTION}], "x": "y" * 10_000_000}).encode(), 413),
    ],
)
def test_bad_requests_to_a_live_server_get_their_status_and_it_answers_the_next(server, body, status):
    got, reply = _post(server, body)
    assert got == status and reply["error"]["message"] and "\n" not in reply["error"]["message"]
    # The next request is served (a search: the generator's answers are the other tests' part, and slow).
    request = urllib.request.Request(f"{server.url}v1/search", data=json.dumps({"query": QUESTION}).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200 and any("2030" in p["text"] for p in json.load(response)["data"])


def test_sixteen_api_clients_at_once_each_get_an_answer_or_a_503(server):
    c = client_of(server)
    outcomes: list[object] = []

    def one() -> None:
        try:
            reply = c.chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}])
            outcomes.append(reply.choices[0].message.content)
        except openai.APIStatusError as e:
            outcomes.append(e.status_code)

    threads = [threading.Thread(target=one) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    answers = [o for o in outcomes if isinstance(o, str)]
    assert len(outcomes) == 16 and set(outcomes) - set(answers) <= {503}
    assert 5 <= len(answers) and all("2030" in a for a in answers)  # the one answered and the four waiting, at least
    assert "2030" in c.chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}]).choices[0].message.content


def test_an_agent_starts_qa_mcp_and_calls_its_tools(tmp_path):
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    env = {**os.environ, "QA_CORPUS_DIR": str(corpus), "QA_INDEX_DIR": str(tmp_path / "index")}
    params = StdioServerParameters(command=sys.executable, args=["-m", "qa", "mcp"], env=env, cwd=str(tmp_path))

    async def session_calls() -> dict:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name for t in (await session.list_tools()).tools}
            asked = await session.call_tool("ask", {"question": QUESTION})
            found = await session.call_tool("search", {"query": "Stargate agreements", "top_k": 2})
            empty = await session.call_tool("ask", {"question": "   "})
            documents = await session.read_resource("qa://documents")
            return {"tools": tools, "asked": asked, "found": found, "empty": empty, "documents": documents}

    got = anyio.run(session_calls)
    assert got["tools"] == {"ask", "search"}
    answer = json.loads(got["asked"].content[0].text)
    assert not got["asked"].is_error and "2030" in answer["text"] and not answer["refused"]
    assert answer["citations"][0]["document"] == ARTICLE.name and 0 <= answer["confidence"] <= 1
    passages = json.loads(got["found"].content[0].text)["passages"]
    assert 1 <= len(passages) <= 2 and all(p["document"] == ARTICLE.name for p in passages)
    assert got["empty"].is_error and "the question is empty" in got["empty"].content[0].text
    assert [d["id"] for d in json.loads(got["documents"].contents[0].text)] == [ARTICLE.name]
