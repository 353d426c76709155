"""Finding the passages for a question: the dense and lexical rankings of the index, fused, and the best ones
shown in their paragraph.

May import: qa.settings, qa.errors, qa.domain, qa.text, qa.store.
"""
