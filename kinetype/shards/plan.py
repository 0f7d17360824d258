"""What gets rendered: the render configuration, word sources and the deterministic sample plan.

Sample ``i`` of a dataset always gets the same (template, word, seed) from (``--seed``, ``i``) and
the sorted template ids, whatever the number of workers, machines or restarts. Shard ``k`` holds
the sample indices ``[k * shard_size, (k + 1) * shard_size)``.

Templates are dealt in blocks: each block of ``len(templates)`` consecutive indices uses every
template exactly once, in an order shuffled per block, so template counts never differ by more
than one.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from kinetype.errors import KinetypeError, WordError, random_seed, whole
from kinetype.media import CRF
from kinetype.render.settings import ClipSettings
from kinetype.render.words import LETTERS, MAX_LETTERS, bundled_words, held_out_words, validate_word

FORMAT_VERSION = 1  # bump when the shard layout changes; part of the config fingerprint
KEY_DIGITS = 9  # keys look like s000123456 (no dots: webdataset splits keys at the first dot)


def sample_key(index: int) -> str:
    return f"s{index:0{KEY_DIGITS}d}"


def key_index(key: str) -> int:
    return int(key[1:])


# RenderConfig field -> the `kinetype render` option that sets it (errors name the option).
OPTIONS = {"n": "--n", "shard_size": "--shard-size"}
MAX_N = 100_000_000  # clips in one dataset: planning is linear in n, and 10^8 is days of rendering


@dataclass(frozen=True)
class RenderConfig:
    """Everything that decides the content of a dataset (execution settings such as the number of
    workers or machines are not part of it)."""

    templates: Path
    n: int  # number of samples
    seed: int = 0
    shard_size: int = 1000  # samples per shard
    size: int = ClipSettings.size  # frame width and height, pixels
    num_frames: int = ClipSettings.frames
    fps: int = ClipSettings.fps
    words: Path | None = None  # one word per line; None: random letters mixed with English words
    english_share: float = 0.5  # share of English words in the default mix
    crf: int = CRF  # H.264 quality (x264 settings: kinetype.media.encode_mp4)
    retries: int = 2  # extra attempts for a sample that fails to render

    def __post_init__(self):
        for name, option in OPTIONS.items():
            value = getattr(self, name)
            whole(option, int(value) if isinstance(value, np.integer) else value, 1, MAX_N)

        ClipSettings(self.size, self.num_frames, self.fps)  # one line naming --size, --frames or --fps
        if self.size % 2:
            # x264's yuv420p halves the colour planes: an odd size would be padded to the next even one.
            raise KinetypeError(f"--size must be even (H.264 4:2:0 video), got {self.size}")
        random_seed(self.seed)
        if not 0.0 <= self.english_share <= 1.0:
            raise KinetypeError(f"english share must be in [0, 1], got {self.english_share}")

    @property
    def clip(self) -> ClipSettings:
        return ClipSettings(self.size, self.num_frames, self.fps)

    @property
    def num_shards(self) -> int:
        return math.ceil(self.n / self.shard_size)

    def shard_range(self, shard: int) -> range:
        """The sample indices of shard ``shard``."""
        return range(shard * self.shard_size, min((shard + 1) * self.shard_size, self.n))

    def shard_of(self, index: int) -> int:
        """The shard that holds sample ``index``."""
        return index // self.shard_size

    def as_json(self) -> dict:
        d = asdict(self)
        d["templates"] = str(self.templates)
        d["words"] = str(self.words) if self.words else None
        return d


# --- words ------------------------------------------------------------------------------------


def read_word_file(path: Path) -> list[str]:
    """Words from a user file: one per line; blank lines and lines starting with # are ignored."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise KinetypeError(f"{path}: cannot read word list: {e}") from None
    words = []
    for lineno, line in enumerate(lines, 1):
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        try:
            words.append(validate_word(word))
        except WordError as e:
            raise KinetypeError(f"{path}:{lineno}: {e}") from None
    if not words:
        raise KinetypeError(f"{path}: no words in the file")
    return words


@dataclass(frozen=True)
class WordSource:
    """Draws words: from a fixed list, or (default) random letter strings of 1–12 of the 52 letters,
    as in the KineTy paper, mixed with English words in lower, Title and UPPER case."""

    words: tuple[str, ...] = ()
    english_share: float = 0.5
    from_file: bool = False

    @classmethod
    def for_config(cls, config: RenderConfig) -> "WordSource":
        if config.words is not None:
            return cls(tuple(read_word_file(config.words)), 1.0, True)
        return cls(tuple(bundled_words()), config.english_share, False)

    def draw(self, rng: np.random.Generator) -> str:
        if self.from_file:
            return self.words[int(rng.integers(len(self.words)))]
        # The default mix never gives a word of `kinetype eval`'s held-out set (the bundled English
        # list is disjoint from it by construction; a short random string spells one, in some case,
        # in about 1.5 of 10^4 draws and is drawn again: every other sample keeps its word).
        held_out = held_out_words()
        while (word := self._draw_mix(rng)).lower() in held_out:
            pass
        return word

    def _draw_mix(self, rng: np.random.Generator) -> str:
        if self.words and rng.random() < self.english_share:
            word = self.words[int(rng.integers(len(self.words)))]
            case = rng.random()  # half lower, a quarter Title, a quarter UPPER
            return word if case < 0.5 else word.capitalize() if case < 0.75 else word.upper()
        length = int(rng.integers(1, MAX_LETTERS + 1))
        return "".join(LETTERS[j] for j in rng.integers(len(LETTERS), size=length))

    def fingerprint(self) -> str:
        h = hashlib.sha256(f"{self.from_file}:{self.english_share}:".encode())
        h.update("\n".join(self.words).encode())
        return h.hexdigest()[:16]


# --- the plan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleSpec:
    index: int
    key: str
    template_id: str
    word: str
    seed: int  # the render seed of this clip


@dataclass(frozen=True)
class SamplePlan:
    """The pure mapping sample index -> (template, word, seed)."""

    template_ids: tuple[str, ...]  # sorted
    words: WordSource
    seed: int
    n: int
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        if not self.template_ids:
            raise KinetypeError("no templates to render")
        if list(self.template_ids) != sorted(self.template_ids):
            raise ValueError("template ids must be sorted")

    def _block_order(self, block: int) -> np.ndarray:
        order = self._cache.get(block)
        if order is None:
            rng = np.random.default_rng([self.seed, 0, block])
            order = rng.permutation(len(self.template_ids))
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[block] = order
        return order

    def spec(self, index: int) -> SampleSpec:
        if not 0 <= index < self.n:
            raise IndexError(index)
        num_templates = len(self.template_ids)
        template_id = self.template_ids[int(self._block_order(index // num_templates)[index % num_templates])]
        rng = np.random.default_rng([self.seed, 1, index])
        word = self.words.draw(rng)
        clip_seed = int(rng.integers(2**31))
        return SampleSpec(index, sample_key(index), template_id, word, clip_seed)


def make_plan(config: RenderConfig, template_ids: Sequence[str]) -> SamplePlan:
    return SamplePlan(tuple(sorted(template_ids)), WordSource.for_config(config), config.seed, config.n)


def templates_fingerprint(templates: Sequence) -> str:
    """Hash of the template ids and, where known, their source files' bytes."""
    h = hashlib.sha256()
    for t in sorted(templates, key=lambda t: t.id):
        h.update(t.id.encode() + b"\0")
        source = getattr(t, "source", None)
        if source is not None and Path(source).is_file():
            h.update(hashlib.sha256(Path(source).read_bytes()).digest())
    return h.hexdigest()[:16]
