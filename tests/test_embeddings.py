"""Document embeddings: each distinct text is embedded once, and every text gets its vector back in order."""

from qa.models.embeddings import MiniLMEmbeddings


def test_repeated_texts_are_embedded_once_and_returned_in_order(monkeypatch):
    embeddings = MiniLMEmbeddings()
    encoded: list[list[str]] = []
    monkeypatch.setattr(embeddings, "_encode", lambda texts: encoded.append(list(texts)) or [[float(len(t))] for t in texts])
    assert embeddings.embed_documents(["a", "bb", "a", "ccc", "bb"]) == [[1.0], [2.0], [1.0], [3.0], [2.0]]
    assert encoded == [["a", "bb", "ccc"]]
    assert embeddings.embed_documents([]) == [] and len(encoded) == 1  # nothing to embed loads no model
