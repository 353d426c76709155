"""Finding the passages for a question: the dense and lexical rankings of the index, fused.

May import: qa.settings, qa.errors, qa.domain, qa.text, qa.store.
"""
