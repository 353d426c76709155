"""The models: the generator backends and the local llama.cpp engine, the embedding model for documents and
questions, the answerability cross-encoder, and the packaged model files they load.

May import: qa.settings, qa.errors.
"""
