"""Words the engine draws: validation, KineTy's word-caption format, and the shipped word lists
(the bundled English words of the default mix; the eval set, whose words the mix never draws).

The engine draws words of the 52 Latin letters only, 1 to 12 letters long, as in the KineTy
paper (arXiv 2407.10476). The word caption splits letters with ``|`` and marks each capital
with ``^`` right after it: ``Hello`` -> ``H^|e|l|l|o``.
"""

from __future__ import annotations

import json
import string
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from kinetype.errors import KinetypeError, WordError

EVALSET_VERSION = 1
LETTERS = string.ascii_uppercase + string.ascii_lowercase  # the 52 letters
MAX_LETTERS = 12
_LETTER_SET = frozenset(LETTERS)


def validate_word(word: str) -> str:
    """Return ``word`` unchanged if it is 1–12 of the 52 letters, else raise a one-line WordError."""
    if not isinstance(word, str) or word == "":
        raise WordError("word is empty: give 1 to 12 letters A-Z or a-z")
    for pos, ch in enumerate(word):
        if ch not in _LETTER_SET:
            raise WordError(f"word {_as_typed(word)} has {_shown(ch)} at position {pos + 1}: "
                            "only letters A-Z and a-z are allowed")
    if len(word) > MAX_LETTERS:
        raise WordError(f"word {_as_typed(word)} has {len(word)} letters: at most {MAX_LETTERS} are allowed")
    return word


def _as_typed(word: str) -> str:
    """The word quoted as the user typed it: a byte that was not UTF-8 on the command line (Python
    holds it as a lone surrogate, U+DCxx) is shown as that byte, ``\\xff``, not as U+DCFF."""
    return "'" + "".join(f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else repr(c)[1:-1]
                         for c in word) + "'"


def _shown(ch: str) -> str:
    if 0xDC80 <= ord(ch) <= 0xDCFF:
        return f"the byte 0x{ord(ch) - 0xDC00:02X} (not UTF-8)"
    if unicodedata.combining(ch):  # a mark that joins the letter before it: invisible on its own
        return f"U+{ord(ch):04X} (a combining mark)"
    return repr(ch) if ch.isprintable() and not ch.isspace() else f"U+{ord(ch):04X}"


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


# --- the shipped word lists -------------------------------------------------------------------


def bundled_words() -> list[str]:
    """The bundled English word list (see kinetype/assets/README.md for its source and licence)."""
    text = resources.files("kinetype").joinpath("assets/words.txt").read_text(encoding="utf-8")
    return [w for w in text.split() if w]


@dataclass(frozen=True)
class EvalSet:
    version: int
    english: tuple[str, ...]
    random: tuple[str, ...]
    motions: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"evalset_v{self.version}"


@lru_cache(maxsize=4)
def load_evalset(version: int = EVALSET_VERSION) -> EvalSet:
    """The shipped eval set of one version."""
    try:
        text = resources.files("kinetype").joinpath(f"assets/evalset_v{version}.json").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KinetypeError(f"no eval set version {version} (kinetype/assets/evalset_v{version}.json)") from None
    raw = json.loads(text)
    return EvalSet(int(raw["version"]), tuple(raw["english"]), tuple(raw["random"]), tuple(raw["motions"]))


@lru_cache(maxsize=1)
def held_out_words() -> frozenset[str]:
    """Every eval-set word, lower-cased: the renderer's default word mix never draws one."""
    s = load_evalset()
    return frozenset(w.lower() for w in (*s.english, *s.random))
