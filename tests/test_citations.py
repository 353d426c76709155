"""Parsing `[n]` markers into citations, dropping bad ones, and recognising refusals."""

from hypothesis import given
from hypothesis import strategies as st

from qa.answering.citations import best_matching_passage, cited_numbers, is_refusal, recite, resolve, split_sentences
from qa.answering.prompts import REFUSAL
from qa.domain import Passage


def passages(*texts: str) -> list[Passage]:
    return [Passage(f"id{i}", t, "doc.md", "Doc", i * 100, i * 100 + len(t), 0.5) for i, t in enumerate(texts)]


THREE = passages("Alpha ships in May.", "Beta costs $5.", "Gamma is blue.")


def test_markers_become_citations_in_order_of_appearance():
    text, cites = resolve("Beta costs $5 [2]. Alpha ships in May [1].", THREE)
    assert text == "Beta costs $5 [2]. Alpha ships in May [1]."
    assert [(c.number, c.text, c.start) for c in cites] == [(2, "Beta costs $5.", 100), (1, "Alpha ships in May.", 0)]


def test_grouped_and_repeated_markers_are_split_and_deduplicated():
    text, cites = resolve("Both hold [1, 3]. Again [3][1].", THREE)
    assert text == "Both hold [1][3]. Again [3][1]."
    assert [c.number for c in cites] == [1, 3]


def test_out_of_range_and_zero_markers_are_dropped():
    text, cites = resolve("Gamma is blue [3][4]. Nothing [0]. Far [17].", THREE)
    assert text == "Gamma is blue [3]. Nothing. Far."
    assert [c.number for c in cites] == [3]


def test_malformed_markers_are_not_citations():
    text, cites = resolve("See [a] and [] and [1.5] and [-1].", THREE)
    assert cites == []
    assert "[a]" in text


def test_verbose_references_are_reduced_to_markers():
    text, _ = resolve("Beta costs $5, as stated in passage [2].", THREE)
    assert text == "Beta costs $5 [2]."


def test_sentences_keep_their_trailing_markers():
    assert split_sentences("One fact. [1] Two facts [2]. Three.") == ["One fact. [1]", "Two facts [2].", "Three."]
    assert cited_numbers("a [2] b [1, 2] c [3]") == [2, 1, 3]


def test_refusals_are_recognised_and_answers_are_not():
    assert is_refusal(REFUSAL)
    assert is_refusal("The passages do not mention the CEO.")
    assert not is_refusal("The partnership continues until 2030 [1].")


def test_best_matching_passage_and_recite():
    assert best_matching_passage("It costs five dollars, beta does", THREE) == 2
    assert best_matching_passage("zzz", THREE) is None
    assert recite("Beta costs $5 [3].", 2) == "Beta costs $5 [2]."


@given(st.text(max_size=200), st.integers(min_value=0, max_value=6))
def test_resolved_citations_always_point_at_real_passages(text: str, n: int):
    ps = passages(*[f"text {i}" for i in range(n)])
    cleaned, cites = resolve(text, ps)
    assert all(1 <= c.number <= n for c in cites)
    assert [c.number for c in cites] == cited_numbers(cleaned)
    for c in cites:
        assert c.text == ps[c.number - 1].text


def test_an_abbreviation_or_an_initial_does_not_end_a_sentence():
    text = "CSNET was funded by the U.S. National Science Foundation [1]. John F. Kennedy met Dr. Smith [2]. It ended."
    assert split_sentences(text) == [
        "CSNET was funded by the U.S. National Science Foundation [1].",
        "John F. Kennedy met Dr. Smith [2].",
        "It ended.",
    ]
