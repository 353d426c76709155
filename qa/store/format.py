"""The index's format, numbered, and the migrations that bring an index of an older format to the current one.

1. A chunk's text is its Chroma document.
2. The text is in the chunk's metadata (`text`) and the Chroma document is empty: Chroma's embedded store indexes
   every document's trigrams, which was over half of a write's time (docs/performance.md); langchain's similarity
   search drops records without a document, so an empty one is kept.

An index records its format beside its versions (qa.store.records). One that recorded none was written before the
number existed: its chunks say which format it is. Opening an older index migrates it, once; a newer one, written by
a later qa, is refused rather than misread. A new format is one more number and one more migration here; the
readers know only the current format.
"""

from __future__ import annotations

from collections.abc import Callable

import chromadb

from qa.errors import IndexStoreError
from qa.store.chroma import READ_PAGE, read_all
from qa.store.records import Records

FORMAT = 2


def _text_into_metadata(collection: chromadb.Collection) -> None:
    """1 → 2: each chunk's text moves from its Chroma document into its metadata."""
    ids = read_all(collection, include=[])["ids"]  # listed first: the pages below are rewritten as they go
    for at in range(0, len(ids), READ_PAGE):
        got = collection.get(ids=ids[at : at + READ_PAGE], include=["documents", "metadatas", "embeddings"])
        moved = [(i, e, {**m, "text": d or ""}) for i, d, m, e in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"]) if "text" not in m]
        if moved:
            page_ids, embeddings, metadatas = zip(*moved)
            collection.upsert(ids=list(page_ids), embeddings=list(embeddings), documents=[""] * len(page_ids), metadatas=list(metadatas))


# Migration n brings an index of format n to format n + 1.
MIGRATIONS: dict[int, Callable[[chromadb.Collection], None]] = {1: _text_into_metadata}


def written_in(collection: chromadb.Collection, records: Records) -> int:
    """The format of an index: as recorded, or, for one that recorded none, as its chunks show (empty: current)."""
    recorded = records.format()
    if recorded is not None:
        return recorded
    sample = collection.get(limit=1, include=["metadatas"])
    return 1 if sample["ids"] and "text" not in sample["metadatas"][0] else FORMAT


def migrate(collection: chromadb.Collection, records: Records, where: str) -> None:
    """Bring the index to FORMAT; raises IndexStoreError for an index of a later format."""
    found = written_in(collection, records)
    if found > FORMAT:
        raise IndexStoreError(f"{where} is of index format {found}, written by a newer qa; this one reads format {FORMAT}: upgrade qa")
    for number in range(found, FORMAT):
        MIGRATIONS[number](collection)
    if records.format() != FORMAT:
        records.set_format(FORMAT)
