"""Experiment (not part of qa): the generator's hidden states at the end of the exact answer prompt.

For develop SQuAD questions (Zelda's unanswerable ones, the only ones outside the locked articles, and as
many answerable ones, half of them Zelda's), retrieve passages from the whole shared file as `qa` does,
evaluate the answer prompt with llama.cpp, and read the residual stream (`l_out-N`) of a few layers at the
prompt's last token through an evaluation callback; one JSON line per question, with the answerability
model's scores of the same passages for comparison. `probe_fit.py` fits and scores probes on them.

    python eval/experiments/probe_collect.py build/probe.jsonl 160   # appends; ~10-15 s a question on 2 AVX2 cores
"""
import ctypes
import json
import random
import sys
import time
from pathlib import Path

import llama_cpp.llama_cpp as lc
import numpy as np

LAYERS = [6, 10, 14, 18, 22, 27]

class Tensor(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("buffer", ctypes.c_void_p), ("ne", ctypes.c_int64 * 4), ("nb", ctypes.c_size_t * 4),
                ("op", ctypes.c_int), ("op_params", ctypes.c_int32 * 16), ("flags", ctypes.c_int32),
                ("src", ctypes.c_void_p * 10), ("view_src", ctypes.c_void_p), ("view_offs", ctypes.c_size_t),
                ("data", ctypes.c_void_p), ("name", ctypes.c_char * 64), ("extra", ctypes.c_void_p), ("padding", ctypes.c_char * 8)]

WANT = {f"l_out-{l}".encode(): l for l in LAYERS}
last: dict[int, np.ndarray] = {}

@lc.ggml_backend_sched_eval_callback
def cb(t, ask, user):
    tensor = Tensor.from_address(t)
    layer = WANT.get(tensor.name)
    if ask:
        return layer is not None
    if layer is not None and tensor.type == 0:
        n, rows = tensor.ne[0], tensor.ne[1]
        row = (ctypes.c_float * n).from_address(tensor.data + (rows - 1) * tensor.nb[1])
        last[layer] = np.frombuffer(row, dtype=np.float32).copy()
    return True

_default = lc.llama_context_default_params
def patched():
    p = _default()
    p.cb_eval = cb
    return p
lc.llama_context_default_params = patched

from qa.answering.prompts import answer_messages
from qa.api import index as open_index
from qa.evaluation.pairs import DEFAULT_SQUAD, develop_articles, gold_spans, holds_span, paragraph_numbers
from qa.evaluation.squad import load_squad, write_corpus
from qa.models.answerability import shipped_model
from qa.models.generators import local_chat_model
from qa.retrieval.hybrid import IndexRetriever
from qa.settings import Settings

out = Path(sys.argv[1]); n_each = int(sys.argv[2])
work = Path("build/probe-work")
settings = Settings().with_(corpus_dir=work / "corpus", index_dir=work / "index", chroma_url=None)
squad = load_squad(DEFAULT_SQUAD)
if not (work / "corpus").exists():
    write_corpus(squad, settings.corpus_dir)
store = open_index(settings)
store.ingest([settings.corpus_dir])
retriever = IndexRetriever(store, settings)
spans = gold_spans(DEFAULT_SQUAD)
numbers = paragraph_numbers(squad)
dev = set(develop_articles())
zelda = "The_Legend_of_Zelda:_Twilight_Princess"
rng = random.Random(5)
unans = [q for q in squad.questions if q.article == zelda and not q.answerable]
ans_z = [q for q in squad.questions if q.article == zelda and q.answerable]
ans_o = [q for q in squad.questions if q.article in dev and q.article != zelda and q.answerable]
picked = rng.sample(unans, min(n_each, len(unans))) + rng.sample(ans_z, n_each // 2) + rng.sample(ans_o, n_each - n_each // 2)
rng.shuffle(picked)
done = {json.loads(l)["id"] for l in out.read_text().splitlines()} if out.exists() else set()
chat = local_chat_model(settings)
engine = chat.engine
llama = engine.llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

fmt = Jinja2ChatFormatter(template=llama.metadata["tokenizer.chat_template"], eos_token="<|endoftext|>", bos_token="")
ce = shipped_model()
with out.open("a") as f:
    for q in picked:
        if q.id in done:
            continue
        t0 = time.time()
        found = retriever.retrieve(q.question)
        msgs = chat._request(answer_messages(q.question, found), None, {})["messages"]
        prompt = fmt(messages=msgs).prompt
        tokens = llama.tokenize(prompt.encode(), add_bos=False, special=True)
        prev = llama.input_ids[: llama.n_tokens].tolist()
        reuse = min(llama.longest_token_prefix(prev, tokens), len(tokens) - 1)
        llama.n_tokens = reuse
        last.clear()
        llama.eval(tokens[reuse:])
        gold = any(holds_span(p, spans[q.id]) for p in found) if q.answerable else False
        scores = ce.scores(q.question, [p.text for p in found]) if found else []
        rec = {"id": q.id, "article": q.article, "paragraph": numbers[q.id], "answerable": q.answerable, "gold_retrieved": gold,
               "n_passages": len(found), "ce": [float(s) for s in scores], "new_tokens": len(tokens) - reuse,
               "seconds": time.time() - t0, "states": {l: last[l].tolist() for l in LAYERS if l in last}}
        f.write(json.dumps(rec) + "\n"); f.flush()
        print(q.id, len(tokens) - reuse, round(time.time() - t0, 1), sorted(rec["states"]), flush=True)
