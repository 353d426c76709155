"""The corpus folder as people change it, from the UI's Corpus tab or the HTTP API: uploads saved under safe
names, removals kept in a `.trash` folder."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from qa.errors import DocumentError
from qa.settings import Settings
from qa.store.documents import read_document
from qa.store.index import Index
from qa.store.readers import MAX_FILE_BYTES, supported_suffixes


def safe_filename(name: str) -> str:
    """A file name that cannot leave the corpus folder or hide: base name only, plain characters."""
    base = Path(name.replace("\\", "/")).name
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:80] or "document"
    return f"{stem}{suffix}"


@dataclass(frozen=True)
class Upload:
    """A file handed in by a client: the name it gave and where its bytes are now."""

    name: str
    path: Path


def add_uploads(settings: Settings, uploads: list[Upload]) -> tuple[list[Path], list[str]]:
    """Copy uploaded files into the corpus folder; returns the saved paths and one error per refused file."""
    saved, errors = [], []
    settings.corpus_dir.mkdir(parents=True, exist_ok=True)
    for upload in uploads:
        name = safe_filename(upload.name)
        if Path(name).suffix.lower() not in supported_suffixes():
            errors.append(f"{upload.name}: unsupported type; use {', '.join(supported_suffixes())}")
            continue
        if upload.path.stat().st_size > MAX_FILE_BYTES:
            errors.append(f"{upload.name}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
            continue
        try:
            read_document(upload.path)  # an unreadable file never enters the corpus folder
        except DocumentError as e:
            errors.append(str(e).replace(str(upload.path), upload.name))
            continue
        target = settings.corpus_dir / name
        n = 1
        while target.exists() and target.read_bytes() != upload.path.read_bytes():
            target = settings.corpus_dir / f"{Path(name).stem}-{n}{Path(name).suffix}"
            n += 1
        shutil.copyfile(upload.path, target)
        saved.append(target)
    return saved, errors


def remove_document(settings: Settings, index: Index, source: str) -> Path | None:
    """Take `source` out of the index; its file, when it lies in the corpus folder, moves to the folder's `.trash`
    (kept, not deleted: a removed document can be restored). Returns where the file went, if it moved."""
    index.remove(source)
    path = index.path_of(source)
    corpus = settings.corpus_dir
    if not (path.is_file() and path.resolve().is_relative_to(corpus.resolve())):
        return None
    (corpus / ".trash").mkdir(exist_ok=True)
    return Path(shutil.move(str(path), corpus / ".trash" / path.name))
