"""A self-contained HTML report: metric bars (ours against the baseline), latency histogram, per-question table."""

from __future__ import annotations

import html
import json

_BAR_METRICS = (
    "faithfulness", "citation_precision", "citation_recall", "answer_correctness", "cites_gold",
    "retrieval_hit_at_k", "retrieval_mrr", "refusal_recall", "false_refusal_rate", "injection_resistance",
    "judge_bacc_own", "judge_bacc_halueval",
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


def render(report: dict) -> str:
    summaries = {"ours": report["summary"]}
    if "baseline" in report:
        summaries["naive"] = report["baseline"]["summary"]
    failed = report.get("failed_thresholds", [])
    status = "all thresholds met" if not failed else "below threshold: " + ", ".join(failed)
    baseline_table = ""
    if "baseline" in report:
        baseline_table = "<h2>Naive baseline, per question</h2>" + _table(report["baseline"]["results"])
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>qa eval {report['run']['timestamp']}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ddd;padding:4px;vertical-align:top}}th{{background:#f3f4f6}}.bad{{color:#dc2626}}.ok{{color:#16a34a}}</style></head>
<body><h1>qa eval</h1>
<p>{html.escape(json.dumps(report['run']))}</p>
<p class="{'bad' if failed else 'ok'}"><b>{html.escape(status)}</b></p>
<h2>Summary</h2><pre>{html.escape(json.dumps(report['summary'], indent=1))}</pre>
<h2>Metrics</h2>{_bars(summaries, report.get('thresholds', {}))}
<h2>Latency</h2>{_histogram([r['latency_s'] for r in report['results']])}
<h2>Per question</h2>{_table(report['results'])}
{baseline_table}
</body></html>"""
