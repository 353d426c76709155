"""Word-level text helpers shared by retrieval and citation matching."""

from __future__ import annotations

import re

_STOP = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was were will with "
    "which who what when where why how does do did can could would should not no yes".split()
)
# A citation marker: [1], [1, 2], [1; 3].
MARKER = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")


def terms(text: str) -> list[str]:
    """Lower-cased words minus stop words and `[n]` markers, cut to five letters so "invest" meets "investor"."""
    return [w[:5] for w in re.findall(r"[a-z0-9$]+", MARKER.sub("", text).lower()) if w not in _STOP]
