"""Generation checked by OCR (``--verify N``): sample up to N candidates of one request with the
seeds ``seed, seed + 1, …``, read each with an eval reader (PP-OCR) on the frames where the engine's
reference render is at rest, and keep the first whose word reads correctly — else the one read best
by NED (the earliest on a tie).

Reading uses exactly what ``kinetype eval`` scores with (:func:`kinetype.eval.score.read_picks`,
the vote over frames, :func:`kinetype.eval.measures.word_scores`); "reads correctly" is its
look-alikes-merged word accuracy: a font that draws ``l`` and ``I`` alike cannot be read otherwise,
so it must not cost a candidate. Everything depends on the seed alone: the same request and seed
keep the same clip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from kinetype.errors import whole
from kinetype.eval.lookalikes import lookalike_map
from kinetype.eval.measures import vote, word_scores
from kinetype.eval.readers import Reader
from kinetype.eval.score import read_frames, read_picks

MAX_CANDIDATES = 64
VERIFY_READER = "ppocr"


def check_verify(n: int, name: str = "--verify") -> int:
    """The candidate count, or a one-line error naming the option (kinetype.errors, as every number)."""

    return whole(name, n, 1, MAX_CANDIDATES, unit=" candidates (1 = no check)")


def candidate_seeds(seed: int, n: int) -> list[int]:
    return [seed + k for k in range(n)]


@dataclass(frozen=True)
class Verdict:
    """What the reader made of one candidate."""

    seed: int
    read: str  # the clip's reading (a vote over its at-rest frames)
    correct: bool  # the word, look-alikes merged, case-insensitive
    ned: float  # case-insensitive normalised edit distance similarity, 0..1


@dataclass(frozen=True)
class Verified:
    """The kept clip and how it was chosen."""

    frames: np.ndarray  # (T, H, W, 3) uint8
    seed: int
    tried: int  # candidates sampled
    verdict: Verdict | None  # None: nothing was read (one candidate, or no frame at rest)
    verdicts: tuple[Verdict, ...] = field(default=(), repr=False)


def clip_judge(word: str, at_rest: np.ndarray, font_id: str, reader: Reader) -> Callable[[np.ndarray, int], Verdict] | None:
    """``judge(frames, seed) -> Verdict`` for clips of ``word`` whose reference rests at ``at_rest``
    (T,) and is drawn in ``font_id``; None where the reference never rests (nothing to read)."""
    picks = read_frames(at_rest)
    if not picks:
        return None
    alike = lookalike_map(font_id)

    def judge(frames: np.ndarray, seed: int) -> Verdict:
        text = vote([(r.text, r.confidence) for r in read_picks(frames, picks, reader)])
        scores = word_scores(text, word, alike)
        return Verdict(seed, text, scores["merged"] == 1.0, scores["ned"])

    return judge


def first_legible(sample: Callable[[int], np.ndarray], seeds: Sequence[int],
                  judge: Callable[[np.ndarray, int], Verdict] | None,
                  on_candidate: Callable[[int, Verdict], None] | None = None) -> Verified:
    """Sample ``seeds`` in order until ``judge`` finds the word read correctly; else the best by NED.

    Only the best clip so far is held. With one seed, or no judge, the first clip is kept unread.
    """
    if not seeds:
        raise ValueError("no seeds to sample")
    if judge is None or len(seeds) == 1:
        return Verified(sample(seeds[0]), seeds[0], 1, None)
    best: tuple[np.ndarray, Verdict] | None = None
    verdicts: list[Verdict] = []
    for seed in seeds:
        frames = sample(seed)
        v = judge(frames, seed)
        verdicts.append(v)
        if on_candidate:
            on_candidate(len(verdicts), v)
        if best is None or v.ned > best[1].ned:
            best = (frames, v)
        if v.correct:
            break
    frames, v = best
    return Verified(frames, v.seed, len(verdicts), v, tuple(verdicts))


def describe(chosen: Verified, n: int) -> str:
    """One line for the user: which seed was kept, what it read, how many candidates were tried."""
    if chosen.verdict is None:
        return f"verify: kept seed {chosen.seed} unread ({'one candidate' if n == 1 else 'the reference never rests'})"
    v = chosen.verdict
    how = "reads correctly" if v.correct else f"none read correctly; best NED {v.ned:.2f}"
    return f"verify: kept seed {v.seed}, read {v.read!r} ({how}); {chosen.tried} of up to {n} candidates tried"
