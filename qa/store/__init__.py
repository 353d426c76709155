"""Reading documents and keeping the index: file readers, chunking with exact spans, the Chroma store,
the versioned ingest and the lexical (BM25) index written beside it.

May import: qa.settings, qa.errors, qa.domain, qa.text.
"""
