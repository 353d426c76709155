"""Answering and checking: the recipe from question to checked Answer, the prompts, citations, the judge,
the question's own constraints, the calibrated confidence, broad questions and follow-ups.

May import: qa.settings, qa.errors, qa.domain, qa.text, qa.models, qa.store, qa.retrieval.
"""
