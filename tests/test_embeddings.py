"""Document embeddings: every text gets its vector back in order, and nothing to embed loads no model.

(Each distinct text is embedded once per ingest: qa.store.ingestion.Embedder, tested in test_index.py.)"""

from qa.models.embeddings import MiniLMEmbeddings


def test_texts_get_their_vectors_in_order_and_nothing_to_embed_loads_no_model(monkeypatch):
    embeddings = MiniLMEmbeddings()
    encoded: list[list[str]] = []
    monkeypatch.setattr(embeddings, "_encode", lambda texts: encoded.append(list(texts)) or [[float(len(t))] for t in texts])
    assert embeddings.embed_documents(["a", "bb", "ccc"]) == [[1.0], [2.0], [3.0]]
    assert encoded == [["a", "bb", "ccc"]]
    assert embeddings.embed_documents([]) == [] and len(encoded) == 1
