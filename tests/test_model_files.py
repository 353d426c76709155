"""The generator's GGUF is joined from its packages once, verified, and rebuilt when the cache is broken."""

import os

import pytest

from qa.models.model_files import GENERATOR_FILE, GENERATOR_SHA256, _sha256, generator_model_path

pytestmark = pytest.mark.slow  # assembling the 1 GB generator from its parts


def test_the_model_is_assembled_verified_and_reused(tmp_path):
    path = generator_model_path(tmp_path)
    assert path.name == GENERATOR_FILE and _sha256(path) == GENERATOR_SHA256
    assert not list(tmp_path.glob(".partial-*"))
    mtime = path.stat().st_mtime_ns
    assert generator_model_path(tmp_path) == path and path.stat().st_mtime_ns == mtime  # not rebuilt


def test_a_corrupted_cache_is_rebuilt(tmp_path):
    path = generator_model_path(tmp_path)
    with path.open("r+b") as f:  # same size, one flipped byte, new mtime
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert _sha256(generator_model_path(tmp_path)) == GENERATOR_SHA256


def test_a_truncated_cache_is_rebuilt(tmp_path):
    path = generator_model_path(tmp_path)
    with path.open("r+b") as f:
        f.truncate(1024)
    assert _sha256(generator_model_path(tmp_path)) == GENERATOR_SHA256
