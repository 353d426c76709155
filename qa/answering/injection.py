"""Instructions hidden in documents: where a text addresses an assistant rather than its reader.

The answer prompt neutralises them (qa.answering.prompts) and an overview never quotes them.
"""

from __future__ import annotations

import base64
import re
import unicodedata

# Words that address an assistant rather than the reader, in English and the languages most often used
# to slip past an English-only filter. A sentence holding them is an instruction; so is a role line.
_ADDRESSES_ASSISTANT = re.compile(
    r"\b(?:ignore|disregard|forget|override)\s+(?:(?:all|any|of|the|these|those|my)\s+){0,2}"
    r"(?:(?:previous|prior|above|earlier|preceding|original|system|safety|your)\s+(?:\w+\s+)?"
    r"(?:instructions?|prompts?|messages?|rules?|guidelines|directions)|instructions?|prompts?)\b"
    r"|\b(?:system prompt|you are now|from now on|new instructions)\b"
    r"|\bignore[zr]?\s+(?:toutes\s+)?(?:les\s+)?(?:instructions|consignes)\b"  # French
    r"|\bignorier(?:e|en)?\s+(?:sie\s+)?(?:alle\s+)?(?:\w+\s+)?(?:anweisungen|instruktionen|regeln)\b"  # German
    r"|\bignor[ae]r?\s+(?:todas\s+|tutte\s+)?(?:las|le|as|os)\s+(?:instrucciones|istruzioni|instruções)\b"  # es, it, pt
    r"|игнорир\w*\s+(?:\w+\s+){0,2}инструкци"  # Russian
    r"|(?:忽略|无视|忽視)[^.!?。！？\n]{0,6}(?:指令|指示|说明|提示)",  # Chinese
    re.I,
)
_ROLE_LINE = re.compile(r"(?im)^\s*(?:system|assistant|user)\s*:.*$")
# Where an instruction may hide: up to and with any end mark, Latin or CJK, or up to a line break. Finer than
# SENTENCE on purpose: Chinese text puts no space after its end marks, and what is hidden should be no more
# than the instruction's own piece.
_PIECE = re.compile(r"[^.!?。！？\n]+[.!?。！？]?")
# At a chunk's edges: an instruction cut in two by chunking ("... Ignore all previous" | "instructions and ...").
# The first half ends the chunk within three words of its verb; the second half opens it in lower case
# (a chunk that starts a sentence is no cut: "The rules are simple.").
_CUT_FIRST_HALF = re.compile(r"\b(?i:ignore|disregard|forget|override)(?:\s+\w+){0,3}\s*$")
_CUT_SECOND_HALF = re.compile(r"\s*(?:[a-z]+\s+){0,2}(?:instructions?|prompts?|rules?|guidelines)\b")
# Characters that change nothing a reader sees, put inside words to break a filter ("ig\u200bnore").
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u180e\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff"))
# Cyrillic and Greek letters drawn like Latin ones ("ignоre" with a Cyrillic o).
_HOMOGLYPHS = str.maketrans(
    "аеорсухіјѕԁӏАВЕКМНОРСТХУІЈЅΑΒΕΖΗΙΚΜΝΟΡΤΥΧοινα",
    "aeopcyxijsdlABEKMHOPCTXYIJSABEZHIKMNOPTYXoiva",
)
_BASE64 = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")


def _folded(text: str, homoglyphs: bool) -> tuple[str, list[int]]:
    """The text as a reader sees it (NFKC, invisible characters dropped, optionally homoglyphs made Latin),
    with the index in `text` of each of its characters."""
    out: list[str] = []
    at: list[int] = []
    for i, ch in enumerate(text):
        seen = unicodedata.normalize("NFKC", ch).translate(_INVISIBLE)
        if homoglyphs:
            seen = seen.translate(_HOMOGLYPHS)
        out.append(seen)
        at += [i] * len(seen)
    return "".join(out), at


def _decodes_to_instruction(blob: str) -> bool:
    try:
        decoded = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=False).decode("utf-8")
    except ValueError:
        return False
    return decoded.isprintable() and bool(_ADDRESSES_ASSISTANT.search(decoded))


def instruction_spans(text: str) -> list[tuple[int, int]]:
    """Where `text` addresses an assistant, however spelt: (start, end) spans of `text`, merged and in order.

    Matched on what a reader sees (zero-width characters and homoglyphs do not hide a sentence), in
    several languages, at a chunk's cut edges, and inside base64 blobs.
    """
    spans: list[tuple[int, int]] = []
    for homoglyphs in (False, True):  # Cyrillic text itself must be read unfolded
        folded, at = _folded(text, homoglyphs)
        sentences = list(_PIECE.finditer(folded))
        found = [m for m in sentences if _ADDRESSES_ASSISTANT.search(m.group())] + list(_ROLE_LINE.finditer(folded))
        if sentences and _CUT_FIRST_HALF.search(sentences[-1].group()):
            found.append(sentences[-1])
        if sentences and _CUT_SECOND_HALF.match(sentences[0].group()):
            found.append(sentences[0])
        spans += [(at[m.start()], at[m.end() - 1] + 1) for m in found if m.group().strip()]
    spans += [m.span() for m in _BASE64.finditer(text) if _decodes_to_instruction(m.group())]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
