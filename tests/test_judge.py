"""The judge's deterministic checks: what they decide without asking a model."""

import pytest

from qa.answering.asked import gives_what_was_asked, premise_restated
from qa.answering.facts import missing_facts
from qa.answering.judge import copied

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
    assert missing_facts("Lyon is the fourth-largest city in France, after Paris.", PASSAGE) == ["paris"]
    assert missing_facts("Microsoft paid 13 billion.", PASSAGE) == ["13"]


@pytest.mark.parametrize(
    "question, answer, gives",
    [
        ("When did OpenAI achieve AGI?", "OpenAI achieved AGI [1].", False),
        # A number that is no time, or a relation with no time, names no time.
        ("When did OpenAI achieve AGI?", "OpenAI achieved AGI capable of generating $100 billion in profit before that time [1].", False),
        ("When did the war end?", "The war ended after the treaty [1].", False),
        ("When did the war end?", "The war ended in the 1940s [1].", True),
        ("When did the war end?", "It ended two years ago [1].", True),
        ("When does the cafeteria open?", "The cafeteria opens at 8 am [1].", True),
        ("When does the cafeteria open?", "It opens at 7:30 [1].", True),
        ("When is the fair?", "The fair is on the 5th [2].", True),
        ("When does the shop open?", "The shop opens at 8 [1].", False),  # a bare number is no time
        ("When did Microsoft permit the Oracle collaboration?", "In June of this year [1].", True),
        ("In which year will the partnership end?", "It continues until 2030 [2].", True),
        ("When does the bandstand host concerts?", "The bandstand hosts concerts on Sundays [1].", True),
        ("When does the bakery close?", "The bakery closes every evening [1].", True),
        ("How much did Google pay?", "Google joined the protocol [1].", False),
        ("How many companies joined?", "Two companies joined: SoftBank and Oracle [1].", True),
        ("Who leads OpenAI?", "Sam Altman leads OpenAI [1].", True),
        ("What was discovered in the Wii version?", "The Wii version was discovered [1].", False),  # a restatement
        ("What do enemies react to?", "Enemies react to noise [1].", True),
        ("Does the deal give Microsoft exclusivity?", "The deal gives Microsoft exclusivity [1].", True),  # yes/no
        ("Is the deal exclusive?", "No, it is not exclusive [2].", True),
        # A "why" answer gives a reason; one that restates the question in other words gives none.
        ("Why is the partnership changing?", "The partnership is undergoing a significant shift [1].", False),
        ("Why is the partnership changing?", "It changes due to a shortage of computing resources [3].", True),
        ("Why did Microsoft allow it?", "Microsoft allowed it because shareholders pressed it [1].", True),
        ("Why is OpenAI removing the clause?", "OpenAI is removing the clause to secure more funding [1].", True),
        ("Why did Beyonce leave the group?", "Beyonce left the group in 2003 [1].", False),
        ("What was the reason for the delay?", "The delay stemmed from insufficient computing power [2].", True),
    ],
)
def test_an_answer_must_give_the_kind_of_fact_asked_for(question, answer, gives):
    assert gives_what_was_asked(question, answer) is gives


def test_a_yes_or_no_answer_is_judged_on_what_it_states():
    from conftest import ScriptedJudge

    judge = ScriptedJudge(states=lambda claim, evidence: 0.9 if claim.startswith("The company") else 0.1)  # noqa: ARG005
    assert judge.score("No, the company said it would not renew the contract [3].", [PASSAGE]) == 1.0  # a copy, after "No,"
    assert judge.score("Yes. The company said it might stay [3].", [PASSAGE]) == 0.9
    assert [claim for claim, _ in judge.claims] == ["The company said it might stay."]
    assert judge.score("Nobody renewed it [3].", [PASSAGE]) == 0.1  # "No" only as a word of its own


@pytest.mark.parametrize(
    ("question", "answer", "premise"),
    [
        (
            "Why is Microsoft still OpenAI's exclusive data center provider?",
            "Microsoft is still OpenAI's exclusive data center provider because the API runs only on Azure [2].",
            "Microsoft is still OpenAI's exclusive data center provider",
        ),
        (
            "Why did OpenAI delay product launches?",
            "OpenAI delayed product launches, due to insufficient computing power [2].",
            "OpenAI delayed product launches",
        ),
        ("Why did OpenAI delay launches?", "Because of insufficient computing power [2].", None),  # none restated
        ("Why did OpenAI delay product launches?", "It lacked computing power [2].", None),  # no turn to a reason
        ("Why is the deal changing?", "A shortage of resources is the cause, because launches slipped [3].", None),
        ("Who leads the company?", "Sam Altman leads the company because the board chose him [1].", None),  # not "why"
    ],
)
def test_a_why_answer_restating_the_questions_premise_gives_the_premise_apart(question, answer, premise):
    assert premise_restated(question, answer) == premise
