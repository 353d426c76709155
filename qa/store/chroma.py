"""Chroma as the index uses it: a client for the settings, its failures as one error that says what to do, reads
of many records in pages, and a local index set aside for a rebuild."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaError

from qa.errors import CorpusError, IndexStoreError, QAError
from qa.settings import Settings


def chroma_client(settings: Settings) -> chromadb.ClientAPI:
    """A persistent client on `index_dir`, or an HTTP client when `chroma_url` names a server."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise CorpusError(f"QA_CHROMA_URL must look like http://host:port, not {settings.chroma_url!r}")
        with store_errors(settings):
            return chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
    with store_errors(settings):
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        _check_database(settings.index_dir / "chroma.sqlite3")
        return chromadb.PersistentClient(path=str(settings.index_dir), settings=chroma_settings)


# Chroma waits forever on a database another process holds locked; we give up after this long.
LOCK_WAIT_S = 10.0
# Reads of many records go in pages of this many (see read_all).
READ_PAGE = 10_000


def _check_database(path: Path) -> None:
    """Fail fast on an index file that is not a database or that another process holds locked."""
    if not path.exists():
        return
    db = sqlite3.connect(path, timeout=LOCK_WAIT_S)
    try:
        db.execute("BEGIN IMMEDIATE")  # takes the write lock, so a held lock shows here, not as a hang
        db.execute("ROLLBACK")
    finally:
        db.close()


def location(settings: Settings) -> str:
    """Where the index is, as messages name it."""
    return f"the Chroma server at {settings.chroma_url}" if settings.chroma_url else f"the index at {settings.index_dir}"


@contextmanager
def store_errors(settings: Settings) -> Iterator[None]:
    """Chroma, SQLite and file-system failures become one IndexStoreError that says what to do."""
    where = location(settings)
    try:
        yield
    except QAError:
        raise
    except (ChromaError, sqlite3.Error, OSError, ValueError) as e:
        reason = str(e).strip() or type(e).__name__
        lowered = reason.lower()
        if "locked" in lowered:
            advice = "another process holds it locked; stop that process or try again"
        elif any(w in lowered for w in ("readonly", "read-only", "permission")):
            advice = "it cannot be written here (permissions or a read-only disk)"
        elif any(w in lowered for w in ("full", "no space", "too large", "i/o error")):
            advice = "writing to the disk failed (is it full?); free space and run the ingest again"
        elif settings.chroma_url:
            advice = "check that the server is running and reachable"
        else:
            advice = "it looks damaged; `qa ingest --rebuild` sets it aside and builds a new one from the corpus"
        raise IndexStoreError(f"{where} cannot be used ({reason}): {advice}") from e


def set_aside(settings: Settings) -> Path | None:
    """Move a local index out of the way (kept, not deleted) so a new one can be built; returns where it went."""
    if settings.chroma_url:
        raise CorpusError("--rebuild works on the local index; rebuild a server's collection with the server's own tools")
    if not settings.index_dir.exists():
        return None
    target = settings.index_dir.with_name(f"{settings.index_dir.name}.broken-{time.strftime('%Y%m%dT%H%M%S')}")
    settings.index_dir.rename(target)
    # Chroma keeps one system per path; the next client must open the new directory, not the moved one.
    chromadb.api.client.SharedSystemClient.clear_system_cache()
    return target


def read_all(collection: chromadb.Collection, include: list[str], where: dict | None = None, ids: list[str] | None = None) -> dict[str, list]:
    """`collection.get` of every record matching `where` (or of these ids), a page at a time: Chroma's embedded
    store fails one read of more than 32,766 records with their metadata ("too many SQL variables",
    chroma-core/chroma#7687)."""
    got: dict[str, list] = {"ids": [], **{field: [] for field in include}}

    def add(page: dict) -> int:
        for field, values in got.items():
            values.extend(page[field])
        return len(page["ids"])

    if ids is not None:
        for at in range(0, len(ids), READ_PAGE):
            add(collection.get(ids=ids[at : at + READ_PAGE], include=include))
        return got
    while add(collection.get(where=where, include=include, limit=READ_PAGE, offset=len(got["ids"]))) == READ_PAGE:
        pass
    return got
