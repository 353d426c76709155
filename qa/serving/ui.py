"""The Gradio app: streamed, cited answers; sources with the cited sentence highlighted; corpus management."""

from __future__ import annotations

import contextlib
import functools
import json
import math
import threading
from datetime import datetime, timezone
from pathlib import Path

from qa.models.offline import stay_offline

stay_offline()  # before gradio reads its analytics setting

import gradio as gr  # noqa: E402
from fastapi import FastAPI

from qa.answering.chain import Pipeline
from qa.api import pipeline
from qa.errors import CorpusError, QAError
from qa.models.backends import describe
from qa.serving.conversation import history_pairs
from qa.serving.corpus import Upload, add_uploads, remove_document
from qa.serving.ratelimit import RateLimit
from qa.serving.sources import answer_markdown, render_sources
from qa.settings import VERIFY_MODES, Settings
from qa.store.ingestion import ingest
from qa.store.readers import supported_suffixes

EXAMPLES = [
    "Until when will the core partnership continue?",
    "What right did Microsoft gain on OpenAI's additional cloud capacity?",
    "Which companies did OpenAI announce agreements with under the Stargate protocol?",
]
CSS = """
.qa-source { border: 1px solid #d1d5db; border-radius: 6px; padding: 6px 10px; margin-bottom: 8px; }
.qa-around { color: #6b7280; }
.qa-passage { background: #fef9c3; }
mark.qa-cited { background: #fde047; font-weight: 600; }
.qa-refused { color: #b45309; font-weight: 600; }
.qa-cited-for { color: #374151; font-size: 0.9em; }
.qa-page-image { display: block; max-width: 60%; border: 1px solid #d1d5db; margin: 6px 0; }
.qa-page-toggle[open] + .qa-page-image { max-width: 100%; }
.qa-source.qa-flash { outline: 3px solid #f59e0b; }
a.qa-ref { text-decoration: none; font-weight: 600; }
"""
# A click on [n] in the chat opens its source card and scrolls to it. Listening on the document in the
# capture phase sees the click before the chat's own link handling (which would open a new tab).
HEAD = """<script>
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a.qa-ref");
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  const card = document.getElementById(link.getAttribute("href").slice(1));
  if (!card) return;
  card.open = true;
  card.scrollIntoView({behavior: "smooth", block: "center"});
  card.classList.add("qa-flash");
  setTimeout(() => card.classList.remove("qa-flash"), 1500);
}, true);
</script>"""
_feedback_lock = threading.Lock()


def _corpus_errors_shown(handler):
    """A corpus action that fails shows why in the status line and leaves the tables as they were."""

    @functools.wraps(handler)
    def shown(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except QAError as e:  # the index itself may be what failed, so nothing else is redrawn
            return f"❌ {e}", gr.skip(), gr.skip()

    return shown


class ChatActions:
    """What the Chat tab does: answer (streamed, then checked), and record likes and dislikes."""

    def __init__(self, settings: Settings, p: Pipeline):
        self.settings, self.p = settings, p

    def respond(self, message: str, history: list[dict], top_k: int, verify: str, answers: dict):
        history = list(history or [])
        past = history_pairs(history)
        history.append({"role": "user", "content": message})
        try:
            stream = self.p.ask_stream(message, top_k=int(top_k), verify=verify, history=past)
            history.append({"role": "assistant", "content": ""})
            for text in stream:
                history[-1] = {"role": "assistant", "content": history[-1]["content"] + text}
                yield history, gr.skip(), answers, ""
            answer = stream.answer()
            history[-1] = {"role": "assistant", "content": answer_markdown(answer, self.p.threshold)}
            answers = {**answers, str(len(history) - 1): answer.to_dict()}
            # The answer shows at once; cited PDF pages are rendered after it, into the same panel.
            yield history, render_sources(answer, self.settings.corpus_dir, pages=False), answers, ""
            if any(c.page is not None for c in answer.citations):
                yield history, render_sources(answer, self.settings.corpus_dir), answers, ""
        except QAError as e:
            if history[-1]["role"] == "assistant":
                history.pop()  # the half-streamed draft, replaced by the error
            history.append({"role": "assistant", "content": f"❌ {e}"})
            yield history, "", answers, ""

    def feedback(self, data: gr.LikeData, answers: dict):
        answer = answers.get(str(data.index[0] if isinstance(data.index, (list, tuple)) else data.index))
        if answer is None:
            return
        record = {
            "time": datetime.now(timezone.utc).isoformat(),
            "liked": data.liked,
            "question": answer["question"],
            "answer": answer["text"],
            "refused": answer["refused"],
            "citations": [{k: c[k] for k in ("number", "source", "start", "end", "text")} for c in answer["citations"]],
        }
        self.settings.feedback_file.parent.mkdir(parents=True, exist_ok=True)
        with _feedback_lock, self.settings.feedback_file.open("a") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


class CorpusActions:
    """What the Corpus tab does: list, upload (rate-limited per client), re-index and remove documents.

    Each action returns the status line, the documents table and the removal choices.
    """

    def __init__(self, settings: Settings, p: Pipeline):
        self.settings, self.index = settings, p.index
        self.uploads = RateLimit(settings.ui_uploads_per_minute)

    def table(self):
        return [[source, e["title"], e["chunks"]] for source, e in self.index.documents().items()]

    def choices(self):
        return gr.update(choices=list(self.index.documents()), value=None)

    def _shown(self, status: str):
        return status, self.table(), self.choices()

    @_corpus_errors_shown
    def upload(self, files, request: gr.Request, progress=gr.Progress()):
        if not files:
            return self._shown("Choose one or more files first.")
        wait = self.uploads.take(request.username or getattr(request.client, "host", "unknown"), len(files))
        if wait:
            when = "" if math.isinf(wait) else f"; try again in {math.ceil(wait)} s"
            return self._shown(f"❌ Too many uploads: at most {self.settings.ui_uploads_per_minute} files a minute{when}.")
        paths = [Path(f if isinstance(f, str) else f.name) for f in files]
        saved, errors = add_uploads(self.settings, [Upload(path.name, path) for path in paths])
        report = ingest(self.index, saved, progress=_progress(progress)) if saved else None
        lines = [f"✅ added {name}" for name in (report.added + report.updated if report else [])]
        lines += [f"= unchanged {name}" for name in (report.unchanged if report else [])]
        lines += [f"❌ {e}" for e in errors] + [f"❌ {reason}" for reason in (report.failed.values() if report else [])]
        return self._shown("\n\n".join(lines))

    @_corpus_errors_shown
    def reindex(self, progress=gr.Progress()):
        report = ingest(self.index, [self.settings.corpus_dir], progress=_progress(progress))
        failed = "".join(f"\n\n❌ {r}" for r in report.failed.values())
        return self._shown(
            f"Re-indexed: {len(report.added)} added, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged, {len(report.removed)} removed.{failed}"
        )

    @_corpus_errors_shown
    def remove(self, source: str | None):
        if not source:
            return self._shown("Pick a document to remove.")
        moved = remove_document(self.settings, self.index, source)
        note = f" (file moved to {moved.parent})" if moved else ""
        return self._shown(f"Removed {source}{note}.")


def _progress(progress: gr.Progress):
    return lambda step: progress(step.done, desc=f"indexing {step.file} ({step.files}/{step.files_total} files, {step.chunks} chunks)")


def build(settings: Settings | None = None) -> gr.Blocks:
    settings = settings or Settings.from_env()
    p = pipeline(settings)
    with contextlib.suppress(CorpusError):
        p.ensure_index()  # an empty corpus is fine here: documents can be added in the Corpus tab
    talk, corpus = ChatActions(settings, p), CorpusActions(settings, p)
    with gr.Blocks(title="qa: answers you can check") as demo:
        gr.Markdown("## qa — answers from your documents, every claim cited")
        answers = gr.State({})
        with gr.Tab("Chat"):
            with gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(label="Chat", height=460, elem_id="qa-chat", feedback_options=("Like", "Dislike"))
                    with gr.Row():
                        box = gr.Textbox(placeholder="Ask about the documents…", show_label=False, scale=5, elem_id="qa-question")
                        send = gr.Button("Ask", variant="primary", scale=1, elem_id="qa-ask")
                    gr.Examples(EXAMPLES, inputs=box)
                    clear = gr.Button("Clear chat", elem_id="qa-clear")
                with gr.Column(scale=2):
                    gr.Markdown("### Sources")
                    sources = gr.HTML(elem_id="qa-sources")
        with gr.Tab("Corpus"):
            _corpus_tab(settings, corpus)
        with gr.Tab("Settings"):
            top_k = gr.Slider(1, 10, value=settings.top_k, step=1, label="Passages retrieved")
            verify = gr.Radio(list(VERIFY_MODES), value=settings.verify, label="Verification of each sentence")
            gr.Markdown(f"**Generator:** {describe(settings)}  \n**Index:** {settings.chroma_url or settings.index_dir}")

        gr.on([box.submit, send.click], talk.respond, [box, chat, top_k, verify, answers], [chat, sources, answers, box], api_name="ask")
        clear.click(lambda: ([], "", {}), None, [chat, sources, answers])
        chat.like(talk.feedback, [answers], None)
    return demo


def _corpus_tab(settings: Settings, corpus: CorpusActions) -> None:
    docs = gr.Dataframe(headers=["document", "title", "chunks"], value=corpus.table, interactive=False, elem_id="qa-docs")
    if settings.ui_read_only:
        # Not hidden but never built: a hidden button's handler could still be called through the API.
        gr.Markdown("This deployment is read-only: its operator manages the documents.", elem_id="qa-read-only")
        return
    files = gr.File(file_count="multiple", file_types=list(supported_suffixes()), label="Add documents", elem_id="qa-upload")
    with gr.Row():
        add = gr.Button("Add to corpus", variant="primary", elem_id="qa-add")
        rebuild = gr.Button("Re-index corpus folder", elem_id="qa-reindex")
    with gr.Row():
        choice = gr.Dropdown(choices=[row[0] for row in corpus.table()], label="Document", elem_id="qa-remove-choice")
        drop = gr.Button("Remove document", variant="stop", elem_id="qa-remove")
    status = gr.Markdown(elem_id="qa-corpus-status")
    add.click(corpus.upload, [files], [status, docs, choice], api_name="upload")
    rebuild.click(corpus.reindex, None, [status, docs, choice], api_name="reindex")
    drop.click(corpus.remove, [choice], [status, docs, choice], api_name="remove")


def mount(app: FastAPI, settings: Settings) -> FastAPI:
    """The chat UI on `app` at `/`, beside whatever else it serves (the HTTP API under `/v1`)."""
    demo = build(settings)
    # llama.cpp is not thread-safe: one generation at a time, the rest wait in Gradio's queue, which shows
    # each their place and an estimate; beyond its size a request is told at once that the app is busy.
    demo.queue(default_concurrency_limit=1, max_size=settings.ui_queue_size)
    auth = tuple(settings.ui_auth.split(":", 1)) if settings.ui_auth else None
    return gr.mount_gradio_app(app, demo, "", auth=auth, css=CSS, head=HEAD, show_error=True)
