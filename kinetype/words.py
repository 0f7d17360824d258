"""Words the engine draws: validation and KineTy's word-caption format.

The engine draws words of the 52 Latin letters only, 1 to 12 letters long, as in the KineTy
paper (arXiv 2407.10476). The word caption splits letters with ``|`` and marks each capital
with ``^`` right after it: ``Hello`` -> ``H^|e|l|l|o``.
"""

from __future__ import annotations

import string

from kinetype.errors import WordError

LETTERS = string.ascii_uppercase + string.ascii_lowercase  # the 52 letters
MAX_LETTERS = 12
_LETTER_SET = frozenset(LETTERS)


def validate_word(word: str) -> str:
    """Return ``word`` unchanged if it is 1–12 of the 52 letters, else raise a one-line WordError."""
    if not isinstance(word, str) or word == "":
        raise WordError("word is empty: give 1 to 12 letters A-Z or a-z")
    for pos, ch in enumerate(word):
        if ch not in _LETTER_SET:
            shown = repr(ch) if ch.isprintable() and not ch.isspace() else f"U+{ord(ch):04X}"
            raise WordError(
                f"word {word!r} has {shown} at position {pos + 1}: only letters A-Z and a-z are allowed"
            )
    if len(word) > MAX_LETTERS:
        raise WordError(f"word {word!r} has {len(word)} letters: at most {MAX_LETTERS} are allowed")
    return word


def word_caption(word: str) -> str:
    """KineTy's word caption: letters split by ``|``, ``^`` after each capital (``H^|e|l|l|o``)."""
    validate_word(word)
    return "|".join(ch + "^" if ch.isupper() else ch for ch in word)


def parse_word_caption(caption: str) -> str:
    """Inverse of :func:`word_caption`: ``H^|e|l|l|o`` -> ``Hello``."""
    letters = caption.split("|")
    word = "".join(tok[0] for tok in letters if tok)
    if word_caption(word) != caption:
        raise WordError(f"not a word caption: {caption!r}")
    return word
