"""`qa mcp`: the checked answers and the search, served to agents over the Model Context Protocol on stdio.

A desktop assistant or an editor starts `qa mcp` and calls its tools; the models load on the first call and stay
loaded while the assistant runs. Built on the `mcp` SDK's MCPServer; the tools are thin over the Python API.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from qa.api import ask as ask_documents
from qa.api import pipeline
from qa.errors import QAError
from qa.serving.cited import cited, found
from qa.settings import Settings

INSTRUCTIONS = (
    "qa answers questions from the user's own documents only. `ask` gives a checked answer whose sentences carry "
    "[n] markers, each citation with its document, character span, page and passage, and a calibrated confidence; "
    "when the documents do not answer, it refuses (refused: true) instead of guessing. `search` returns the passages "
    "that match a query, without an answer. The resource qa://documents lists the documents."
)


def build(settings: Settings) -> MCPServer:
    server = MCPServer("qa", instructions=INSTRUCTIONS)

    @server.tool()
    def ask(question: str, top_k: int | None = None) -> dict:
        """Answer a question from the documents, every sentence cited and checked, or refuse when they do not say.

        Returns text (with [n] markers), refused, confidence (calibrated probability that the answer is right) and
        citations: number, document, title, start and end (character span), page, text (the passage), support.
        """
        with _told():
            return cited(ask_documents(question, top_k=top_k, settings=settings))

    @server.tool()
    def search(query: str, top_k: int | None = None) -> dict:
        """The passages of the documents that best match a query (no answer is written): `passages`, each with its
        text, document, title, character span, page and retrieval score."""
        with _told():
            return {"passages": [found(x) for x in pipeline(settings).search(query, top_k)]}

    @server.resource("qa://documents", name="documents", mime_type="application/json")
    def documents() -> str:
        """The documents in the index: name, title and number of chunks."""
        listed = pipeline(settings).index.documents()
        return json.dumps([{"id": source, **entry} for source, entry in listed.items()])

    return server


@contextlib.contextmanager
def _told() -> Iterator[None]:
    """A QAError (an empty question, no documents) reaches the agent as the tool's error, in its one line."""
    try:
        yield
    except QAError as e:
        raise ToolError(str(e)) from None


def serve(settings: Settings) -> None:
    """Serve on stdin and stdout until the client closes them."""
    build(settings).run("stdio")
