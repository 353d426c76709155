"""The lexical index: BM25 over the live chunks' words in tantivy, and the words a question is searched by."""

import threading
import time

import pytest

from qa.domain import Chunk
from qa.store.lexical import LexicalIndex, query_words
from qa.store.versions import Version


@pytest.mark.parametrize(
    "question, expected",
    [
        ("Who is a major investor in OpenAI?", "major investor openai"),  # stop words out; the stemmer meets "investors"
        ("Why is the partnership changing?", "partnership changing because due owing stems result reason cause driven attributed pressure response"),
        ("What was the reason for the delay?", "reason delay because due owing stems result cause driven attributed pressure response"),
        ("How did it go?", "go"),
        ('What is C++ AND "quoted" (parens) -minus +plus:field?', "c quoted parens minus plus field"),  # words only: no query syntax
        ("the of and?", ""),
        ("", ""),
    ],
)
def test_query_words(question, expected):
    assert query_words(question) == expected


def _chunk(id_: str, text: str, source: str = "a.txt") -> Chunk:
    return Chunk(id_, text, source, source, 0, len(text))


V1, V2 = Version("d1", "c", 1, "A"), Version("d2", "c", 1, "A")


def test_words_of_other_versions_go_once_the_new_one_is_live(tmp_path):
    words = LexicalIndex(tmp_path)
    words.add([_chunk("old", "The harbour opened in 1901.")], [V1])
    words.keep_only({"a.txt": V1}, "g1")
    words.add([_chunk("new", "The harbour opened in 1999.")], [V2])
    assert set(words.search("harbour", 5)) == {"old", "new"}  # both until the switch ...
    words.keep_only({"a.txt": V2}, "g2")
    assert words.search("harbour", 5) == ["new"] and words.generation == "g2"  # ... the new one after it
    assert LexicalIndex(tmp_path).generation == "g2"  # the state survives the process


def test_settle_replaces_the_documents_whose_live_version_moved_from_the_store(tmp_path):
    words = LexicalIndex(tmp_path)
    words.add([_chunk("old", "The harbour opened in 1901."), _chunk("b1", "A bridge.", "b.txt")], [V1, V1])
    words.keep_only({"a.txt": V1, "b.txt": V1}, "g1")
    fetched = []

    def fetch(source, version):
        fetched.append(source)
        return [_chunk("new", "The harbour opened in 1999.")]

    words.settle({"a.txt": V2}, "g2", fetch)  # a.txt moved on, b.txt is gone
    assert fetched == ["a.txt"] and words.ids() == {"new"} and words.generation == "g2"


def test_a_write_waits_for_another_process_writer_and_a_search_does_not(tmp_path):
    first, second = LexicalIndex(tmp_path), LexicalIndex(tmp_path)
    done = []
    with first._writing() as writer:
        writer.add_document(first._document(_chunk("x", "held"), V1))
        with pytest.raises(ValueError):
            second.settle({"a.txt": V1}, "g", lambda s, v: [])  # a search settles next time instead
        waiting = threading.Thread(target=lambda: done.append(second.add([_chunk("y", "later")], [V1])))
        waiting.start()
        time.sleep(0.3)
        assert not done  # the ingest's write waits ...
    waiting.join(timeout=10)
    assert done and second.ids() == {"x", "y"}  # ... and goes in once the other commits


def test_a_damaged_folder_is_rebuilt_empty(tmp_path):
    (tmp_path / "meta.json").write_text("not json")
    words = LexicalIndex(tmp_path)
    assert words.ids() == set() and words.generation is None


def test_threads_saving_the_state_at_once_each_rename_their_own_file(tmp_path):
    """32 questions on an empty index start ingests and searches in many threads at once: none may lose the
    state file another thread is renaming."""
    from concurrent.futures import ThreadPoolExecutor

    index = LexicalIndex(tmp_path / "words")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: index._save_state(), range(200)))
    assert sorted(p.name for p in (tmp_path / "words").iterdir() if "versions" in p.name) == ["versions.json"]
