"""Write kinetype/assets/evalset_v1.json: the held-out words and motion phrases of `kinetype eval`.

Deterministic: run it again on the same inputs and the file is byte-identical. Never change a
published version's file; make evalset_v2.json instead (figures from different versions do not
compare).

* **English words** — from Debian's ``wamerican-small`` (the source of ``kinetype/assets/words.txt``,
  see ``kinetype/assets/README.md``), 3-10 letters a-z. ``words.txt`` keeps the words whose SHA-1
  is 0 mod 8; the eval set draws only from the others (and checks against the file), so the
  renderer's English words and the eval set's are disjoint by construction. About one in 90 of
  those, by another hash, then cased like the renderer's mix: half lower, a quarter Title, a
  quarter UPPER.
* **Random strings** — 3-10 of the 52 letters, as in the KineTy paper, from a fixed generator;
  none spells an English word of the list, in any case.
* **Motion phrases** — every single motion tag of the bundled templates (``fly in``, ``glitch``...).

Usage: ``python tools/make_evalset.py [--dict /usr/share/dict/american-english-small]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import string
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kinetype.render.templates import load_templates  # noqa: E402

VERSION = 1
N_RANDOM = 400
LETTERS = string.ascii_uppercase + string.ascii_lowercase


def _h(text: str) -> int:
    return int(hashlib.sha1(text.encode()).hexdigest(), 16)


def english_words(dict_path: Path, bundled: set[str]) -> list[str]:
    words = sorted({w for w in dict_path.read_text(encoding="utf-8").split() if re.fullmatch(r"[a-z]{3,10}", w)})
    held = [w for w in words if _h(w) % 8 != 0 and w not in bundled and _h(f"evalset-v{VERSION}:{w}") % 90 == 0]
    out = []
    for w in held:
        case = _h(f"case:{w}") % 4  # 0, 1: lower; 2: Title; 3: UPPER (the renderer's mix)
        out.append(w if case < 2 else w.capitalize() if case == 2 else w.upper())
    return out


def random_strings(n: int, english: set[str]) -> list[str]:
    rng = np.random.default_rng(20240714)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        w = "".join(LETTERS[j] for j in rng.integers(len(LETTERS), size=int(rng.integers(3, 11))))
        if w.lower() not in english and w.lower() not in seen:
            out.append(w)
            seen.add(w.lower())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dict", type=Path, default=Path("/usr/share/dict/american-english-small"))
    args = ap.parse_args()
    bundled = set((ROOT / "kinetype/assets/words.txt").read_text().split())
    all_english = {w.lower() for w in args.dict.read_text(encoding="utf-8").split()}
    english = english_words(args.dict, bundled)
    motions = sorted({m.strip() for t in load_templates(ROOT / "templates") for m in t.motion_tag.split(",")})
    data = {
        "name": "kinetype-evalset", "version": VERSION,
        "about": "Held-out words and motion phrases for `kinetype eval`; made by tools/make_evalset.py "
                 "(English words from Debian wamerican-small, SCOWL; see kinetype/assets/README.md).",
        "english": english,
        "random": random_strings(N_RANDOM, all_english | {w.lower() for w in english}),
        "motions": motions,
    }
    out = ROOT / f"kinetype/assets/evalset_v{VERSION}.json"
    out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}: {len(english)} English words, {len(data['random'])} random strings, {len(motions)} motions")


if __name__ == "__main__":
    main()
