"""Serving people and shells: the `qa` CLI, the Gradio UI with its sources panel, the warm server and the
hand-off of `qa ask` to it.

May import: qa.api, qa.settings, qa.errors, qa.domain, qa.text, qa.models, qa.store, qa.answering, qa.evaluation.
"""
