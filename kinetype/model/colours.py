"""The caption's named colours as a conditioning vector (beyond KineTy): what a small byte-level
caption encoder does not learn from a few thousand clips.

The bundled model's colours follow the seed, not the caption: "white on black" and "yellow on
green" give the same clip for one seed (docs/model.md, "Colours from the caption"), because its
caption encoder, trained from scratch beside the denoiser, never tied the bytes of "navy" to a
colour. Yet every caption the engine writes names its colours from one vocabulary
(:data:`kinetype.render.palettes.COLOURS`), and so do most appearance phrases a user types. So the
static caption's text and background colours are read here by name, and reach the denoiser the way
DiT's class labels do: an embedding added to the time embedding, so every ResNet block sees it.

    caption -> (text colour name | None, background colour name | None)          caption_colours
            -> v = [text RGB (3), background RGB (3), text named, background named]  (COLOUR_DIM,)
               with RGB in [-1, 1] and zeros where a colour is not named
    temb   += ColourEmbedding(v)    (Linear -> SiLU -> Linear, the last zero at start)

A blank caption (classifier-free guidance's unconditional branch, training's caption drop) names
no colour: v = 0, so guidance pushes towards the named colours as it does towards the caption. The
embedding's output starts at zero, so a trained model given it is unchanged until it trains with it.

Which name is which: a name followed within two words by "background" or "backdrop", or that
follows "on" / "on a", is the background's; the first other name is the text's (the engine writes
the fill, whose first name is the text colour, before any effect colour: "ivory fading into orange
... outlined in gold"). Longer names win over the names inside them ("deep red" over "red").
"""

from __future__ import annotations

import re

import torch
from torch import nn

from kinetype.render.palettes import COLOURS

COLOUR_DIM = 8  # text RGB, background RGB, and a flag for each saying it was named
# Everyday names the engine's vocabulary lacks, read as its nearest colour.
ALIASES = {"blue": "royal blue", "grey": "silver", "gray": "silver", "violet": "purple", "dark blue": "navy"}

_NAMES = sorted([*COLOURS, *ALIASES], key=len, reverse=True)  # longest first: "deep red" before "red"
_NAME = re.compile(r"\b(" + "|".join(re.escape(n) for n in _NAMES) + r")\b", re.IGNORECASE)
_AFTER_BACKGROUND = re.compile(r"^(?:[ -]+[a-z]+){0,2}?[ -]+(?:background|backdrop)\b", re.IGNORECASE)
_BEFORE_ON = re.compile(r"\bon(?:\s+(?:a|an|the))?\s+$", re.IGNORECASE)


def named_colours(caption: str) -> tuple[str | None, str | None]:
    """(text colour name, background colour name) of an appearance caption; None where not named.

    >>> named_colours("Bold serif letters in solid white on a plain black background.")
    ('white', 'black')
    >>> named_colours("A soft deep red gradient background with serif text in ivory fading into orange.")
    ('ivory', 'deep red')
    """
    text = background = None
    for m in _NAME.finditer(caption):
        name = m.group(1).lower()
        name = ALIASES.get(name, name)
        if background is None and (_AFTER_BACKGROUND.match(caption[m.end():]) or _BEFORE_ON.search(caption[:m.start()])):
            background = name
        elif text is None:
            text = name
    return text, background


def caption_colours(captions: list[str]) -> torch.Tensor:
    """(B, COLOUR_DIM) float32: each caption's :func:`named_colours` as the conditioning vector."""
    out = torch.zeros(len(captions), COLOUR_DIM)
    for i, caption in enumerate(captions):
        for j, name in enumerate(named_colours(caption)):
            if name is not None:
                out[i, 3 * j:3 * j + 3] = torch.tensor(COLOURS[name], dtype=torch.float32) / 127.5 - 1.0
                out[i, 6 + j] = 1.0
    return out


class ColourEmbedding(nn.Module):
    """(B, COLOUR_DIM) -> (B, dim), added to the time embedding; zero output at start."""

    def __init__(self, dim: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(COLOUR_DIM, dim), nn.SiLU(), nn.Linear(dim, dim))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, colour: torch.Tensor) -> torch.Tensor:
        return self.mlp(colour)
