"""Readable default names for runs, such as ``brave-otter-042``."""

from __future__ import annotations

import random

_ADJECTIVES = (
    "able", "bold", "brave", "bright", "calm", "clever", "crisp", "eager", "fair", "fast",
    "gentle", "glad", "grand", "keen", "kind", "lively", "lucky", "merry", "neat", "nimble",
    "proud", "quick", "quiet", "rapid", "sharp", "shy", "silent", "smart", "steady", "swift",
    "tidy", "vivid", "warm", "wise", "witty", "young", "zesty",
)  # fmt: skip
_ANIMALS = (
    "ant", "bat", "bear", "bee", "bison", "cat", "crane", "crow", "deer", "dove", "duck", "eagle",
    "eel", "elk", "finch", "fox", "frog", "goat", "hare", "hawk", "heron", "horse", "ibis", "koala",
    "lark", "lion", "lynx", "mole", "moth", "newt", "otter", "owl", "panda", "seal", "shark",
    "sloth", "snail", "swan", "tiger", "toad", "trout", "wasp", "whale", "wolf", "wren", "yak",
)  # fmt: skip


def generate_run_name() -> str:
    rng = random.SystemRandom()
    return f"{rng.choice(_ADJECTIVES)}-{rng.choice(_ANIMALS)}-{rng.randrange(1000):03d}"
