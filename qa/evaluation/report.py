"""A self-contained HTML report: a summary table, metric bars (ours against the baseline), calibration and
coverage plots for SQuAD runs, latency histogram, per-question table."""

from __future__ import annotations

import html

_BAR_METRICS = (
    "faithfulness", "citation_precision", "citation_recall", "answer_correctness", "cites_gold",
    "retrieval_hit_at_k", "retrieval_mrr", "refusal_recall", "false_refusal_rate", "injection_resistance",
    "judge_bacc_own", "judge_bacc_halueval",
    "answerable_correct", "answerable_answered", "cited_support", "unanswerable_refused", "overall_accuracy",
)


def _bars(summaries: dict[str, dict], thresholds: dict) -> str:
    names = [m for m in _BAR_METRICS if any(m in s for s in summaries.values())]
    colours = ["#2563eb", "#9ca3af", "#16a34a"]
    row_h, width, left = 22 * len(summaries) + 10, 420, 190
    height = row_h * len(names) + 30
    parts = [f'<svg width="{left + width + 80}" height="{height}" role="img" aria-label="metric bars">']
    for i, name in enumerate(names):
        y = 20 + i * row_h
        parts.append(f'<text x="0" y="{y + 14}" font-size="12">{name}</text>')
        for j, (label, summary) in enumerate(summaries.items()):
            value = summary.get(name)
            if value is None:
                continue
            w = max(1, value * width)
            parts.append(f'<rect x="{left}" y="{y + j * 22}" width="{w:.1f}" height="18" fill="{colours[j % 3]}"><title>{label}: {value:.3f}</title></rect>')
            parts.append(f'<text x="{left + w + 4}" y="{y + j * 22 + 13}" font-size="11">{value:.2f}</text>')
        if name in thresholds:
            x = left + thresholds[name]["value"] * width
            parts.append(f'<line x1="{x}" x2="{x}" y1="{y - 2}" y2="{y + row_h - 8}" stroke="#dc2626" stroke-dasharray="3"/>')
    legend = " ".join(f'<span style="color:{colours[j % 3]}">■ {html.escape(k)}</span>' for j, k in enumerate(summaries))
    return f'<p>{legend} <span style="color:#dc2626">┆ threshold</span></p>' + "".join(parts) + "</svg>"


def _histogram(latencies: list[float], bins: int = 12) -> str:
    if not latencies:
        return "<p>no latencies</p>"
    top = max(latencies) or 1.0
    counts = [0] * bins
    for v in latencies:
        counts[min(bins - 1, int(v / top * bins))] += 1
    peak, w, h = max(counts), 36, 140
    parts = [f'<svg width="{bins * w + 40}" height="{h + 40}" role="img" aria-label="latency histogram">']
    for i, c in enumerate(counts):
        bh = c / peak * h
        parts.append(f'<rect x="{20 + i * w}" y="{h - bh + 5}" width="{w - 4}" height="{bh}" fill="#2563eb"><title>{c}</title></rect>')
        parts.append(f'<text x="{20 + i * w}" y="{h + 20}" font-size="10">{i * top / bins:.1f}</text>')
    parts.append(f'<text x="20" y="{h + 36}" font-size="11">seconds per answer (bin start)</text></svg>')
    return "".join(parts)


def _table(results: list[dict]) -> str:
    rows = []
    for r in results:
        cites = "<br>".join(f"[{c['number']}] {html.escape(c['text'][:160])}" for c in r["citations"])
        verdicts = "<br>".join(
            f"{'✔' if s['supported'] else '✘'} {html.escape(s['text'])}" for s in r["sentences"]
        ) + "".join(f"<br><s>{html.escape(d['text'])}</s> (dropped)" for d in r["dropped"])
        m = r["metrics"]
        rows.append(
            f"<tr><td>{r['id']}</td><td>{r['type']}</td><td>{html.escape(r['question'])}</td>"
            f"<td>{html.escape(r['answer'])}</td><td>{cites}</td><td>{verdicts}</td>"
            f"<td>{m['answer_correctness']:.0f}</td><td>{r['latency_s']:.1f}</td></tr>"
        )
    head = "<tr><th>id</th><th>type</th><th>question</th><th>answer</th><th>citations</th><th>judge verdicts</th><th>correct</th><th>s</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _summary_table(report: dict) -> str:
    """Metric, ours, naive, threshold, pass: the first thing a reader looks for."""
    naive = report.get("baseline", {}).get("summary", {})
    thresholds, failed = report.get("thresholds", {}), report.get("failed_thresholds", [])
    rows = []
    for name, value in report["summary"].items():
        rule = thresholds.get(name)
        cells = [name, _fmt(value), _fmt(naive.get(name, "")), f"{rule['op']} {rule['value']}" if rule else ""]
        verdict = ("✘" if name in failed else "✔") if rule else ""
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + f"<td>{verdict}</td></tr>")
    return "<table><tr><th>metric</th><th>ours</th><th>naive</th><th>threshold</th><th>pass</th></tr>" + "".join(rows) + "</table>"


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else ("" if value is None else str(value))


def _settings_list(run: dict) -> str:
    return "<dl>" + "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in run.items()) + "</dl>"


def _xy_plot(series: dict[str, list[tuple[float, float]]], x_label: str, y_label: str, diagonal: bool = False) -> str:
    """A small SVG line plot on [0, 1] x [0, 1]."""
    size, pad = 260, 36
    colours = ["#2563eb", "#16a34a", "#9ca3af"]

    def at(x: float, y: float) -> str:
        return f"{pad + x * size:.1f},{pad + (1 - y) * size:.1f}"

    parts = [f'<svg width="{size + 2 * pad + 120}" height="{size + 2 * pad}" role="img" aria-label="{html.escape(y_label)}">',
             f'<rect x="{pad}" y="{pad}" width="{size}" height="{size}" fill="none" stroke="#ccc"/>']
    if diagonal:
        parts.append(f'<polyline points="{at(0, 0)} {at(1, 1)}" stroke="#dc2626" stroke-dasharray="3" fill="none"/>')
    for j, (label, points) in enumerate(series.items()):
        colour = colours[j % 3]
        if points:
            parts.append(f'<polyline points="{" ".join(at(x, y) for x, y in points)}" stroke="{colour}" fill="none" stroke-width="2"/>')
            parts += [f'<circle cx="{at(x, y).split(",")[0]}" cy="{at(x, y).split(",")[1]}" r="3" fill="{colour}"><title>{x:.2f}, {y:.2f}</title></circle>' for x, y in points]
        parts.append(f'<text x="{pad + size + 8}" y="{pad + 14 + 16 * j}" font-size="11" fill="{colour}">{html.escape(label)}</text>')
    parts.append(f'<text x="{pad}" y="{pad + size + 26}" font-size="11">{html.escape(x_label)} (0 to 1)</text>')
    parts.append(f'<text x="4" y="{pad - 10}" font-size="11">{html.escape(y_label)}</text></svg>')
    return "".join(parts)


def _squad_table(results: list[dict]) -> str:
    rows = [
        f"<tr><td>{html.escape(r['article'])}</td><td>{'answerable' if r['answerable'] else 'unanswerable'}</td>"
        f"<td>{html.escape(r['question'])}</td><td>{html.escape(r['answer'])}</td>"
        f"<td>{_fmt(r['confidence'] if r['confidence'] is None else float(r['confidence']))}</td><td>{'✔' if r['correct'] else '✘'}</td>"
        f"<td>{r['latency_s']:.1f}</td></tr>"
        for r in results
    ]
    head = "<tr><th>article</th><th>kind</th><th>question</th><th>answer</th><th>confidence</th><th>correct</th><th>s</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _confidence_sections(report: dict) -> str:
    """Calibration and risk against coverage, when the run measured confidence."""
    if "calibration" not in report:
        return ""
    reliability = [(b["confidence"], b["accuracy"]) for b in report["calibration"]["bins"]]
    risk = [(c["coverage"], c.get("risk", 1.0 - c["accuracy"])) for c in report["coverage"]]
    return (
        f"<h2>Calibration</h2><p>Expected calibration error {report['calibration']['ece']:.3f}: each point is a bin of answers"
        " by confidence; on the diagonal, confidence equals the share that is right.</p>"
        + _xy_plot({"ours": reliability}, "confidence", "share right", diagonal=True)
        + "<h2>Risk and coverage</h2><p>Answering only at confidence ≥ t, for t from 0 to 1: the share of questions"
        " answered against the share of those answers that are wrong.</p>"
        + _xy_plot({"ours": risk}, "coverage", "risk")
    )


def _details(report: dict, table) -> str:  # noqa: ANN001 - the per-question table of the run's kind
    baseline = ""
    if "baseline" in report:
        baseline = "<h2>Naive baseline, per question</h2>" + table(report["baseline"]["results"])
    return (
        _confidence_sections(report)
        + f"<h2>Latency</h2>{_histogram([r['latency_s'] for r in report['results']])}"
        + f"<h2>Per question</h2>{table(report['results'])}{baseline}"
    )


def render(report: dict) -> str:
    summaries = {"ours": report["summary"]}
    if "baseline" in report:
        summaries["naive"] = report["baseline"]["summary"]
    failed = report.get("failed_thresholds", [])
    status = "all thresholds met" if not failed else "below threshold: " + ", ".join(failed)
    squad = report["run"].get("mode") in ("squad2", "calibration")
    details = _details(report, _squad_table if squad else _table)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>qa eval {report['run']['timestamp']}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ddd;padding:4px;vertical-align:top}}th{{background:#f3f4f6}}.bad{{color:#dc2626}}.ok{{color:#16a34a}}
dl{{display:grid;grid-template-columns:max-content auto;gap:2px 12px;font-size:13px}}dt{{font-weight:600}}dd{{margin:0}}</style></head>
<body><h1>qa eval{' — SQuAD 2.0' if squad else ''}</h1>
<p class="{'bad' if failed else 'ok'}"><b>{html.escape(status)}</b></p>
<h2>Summary</h2>{_summary_table(report)}
<h2>Run</h2>{_settings_list(report['run'])}
<h2>Metrics</h2>{_bars(summaries, report.get('thresholds', {}))}
{details}
</body></html>"""
