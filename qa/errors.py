"""The errors the project raises on purpose: each says what is wrong in one line, and none needs a traceback."""


class QAError(Exception):
    """Base of every error meant for the user's eyes."""


class SettingsError(QAError, ValueError):
    """A setting has a value the project cannot use."""


class QuestionError(QAError, ValueError):
    """A question the pipeline cannot take (empty, too long, not text)."""


class DocumentError(QAError, ValueError):
    """A file that cannot be read as a document (unsupported, empty, binary, too large)."""


class CorpusError(QAError, ValueError):
    """A path given to ingest does not exist, or the index cannot be reached."""


class IndexStoreError(QAError, RuntimeError):
    """The index cannot be read or written: damaged, locked by another process, out of space, or unreachable."""


class ModelFileError(QAError, RuntimeError):
    """A packaged model is missing or does not match its checksum."""


class BackendError(QAError, RuntimeError):
    """The generator failed or could not be reached; the message names the endpoint."""
