"""The judge's deterministic checks: what they decide without asking a model."""

import pytest

from qa.judge import copied, unsupported_facts

PASSAGE = (
    "Microsoft has gained a \"right of first refusal\" on OpenAI's additional cloud computing capacity. "
    "Lyon is the third-largest city in France. The company said it would not renew the contract."
)


@pytest.mark.parametrize(
    "sentence",
    [
        "Microsoft gained a right of first refusal on OpenAI's additional cloud computing capacity [1].",
        "Lyon is the third-largest city in France.",
        "The company said it would not renew the contract [2].",
    ],
)
def test_a_copy_of_the_passage_is_supported(sentence):
    assert copied(sentence, PASSAGE)


@pytest.mark.parametrize(
    "sentence",
    [
        "Lyon is the largest city in France.",  # skips "third"
        "The company said it would renew the contract.",  # skips "not"
        "OpenAI gained a right of first refusal on Microsoft's cloud computing capacity.",  # roles swapped
        "Lyon is a city [1].",  # too short to count as a copy
        "Microsoft has gained a right of first refusal on all cloud computing capacity.",  # a word added
    ],
)
def test_anything_but_a_copy_is_left_to_the_model(sentence):
    assert not copied(sentence, PASSAGE)


def test_a_number_or_name_the_passage_never_mentions_is_unsupported():
    assert unsupported_facts("Lyon is the fourth-largest city in France, after Paris.", PASSAGE) == ["Paris"]
    assert unsupported_facts("Microsoft paid 13 billion.", PASSAGE) == ["13"]
