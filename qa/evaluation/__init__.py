"""The eval suite: faithfulness, citations, correctness, retrieval, refusals and a validated judge; SQuAD 2.0
and the naive baseline; training the answerability model and fitting the confidence.

May import: qa.api, qa.settings, qa.errors, qa.domain, qa.text, qa.models, qa.store, qa.retrieval, qa.answering.
"""
