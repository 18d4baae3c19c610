"""What is installed: which distribution provides a module, and at which version — read fast.

``importlib.metadata.packages_distributions()`` reads the file list of every installed
distribution (~0.2 s with a hundred packages) and ``version()`` parses each METADATA file
with the e-mail parser. An :class:`InstalledDistributions` (one per environment capture) asks
only the likely providers of each module first — the distribution named like the module, a few
well-known aliases (``sklearn`` -> ``scikit-learn``), the flavor's own packages — reading their
``top_level.txt`` or RECORD, and falls back to ``packages_distributions()`` (once) for a module
none of them provides. Versions come from the ``Version:`` line of METADATA.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.metadata import Distribution

__all__ = ["InstalledDistributions"]

# top-level module -> distributions commonly providing it under another name
ALIASES = MappingProxyType(
    {
        "sklearn": ("scikit-learn",),
        "skimage": ("scikit-image",),
        "cv2": ("opencv-python", "opencv-python-headless", "opencv-contrib-python"),
        "PIL": ("pillow",),
        "yaml": ("PyYAML",),
        "dateutil": ("python-dateutil",),
        "bs4": ("beautifulsoup4",),
        "attr": ("attrs",),
        "google": ("protobuf",),
        "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
    }
)
_HEADER = re.compile(r"^(Name|Version):[ \t]*(\S+)[ \t]*$", re.MULTILINE)


class InstalledDistributions:
    """Lookups over the installed distributions, each file read at most once."""

    def __init__(self, hints: Iterable[str] = ()) -> None:
        self._hints = tuple(hints)
        self._dists: dict[str, Distribution | None] = {}
        self._tops: dict[str, frozenset[str]] = {}
        self._headers: dict[str, tuple[str, str]] = {}
        self._everything: Mapping[str, list[str]] | None = None

    def providers(self, module: str) -> list[str]:
        """The distributions providing the top-level ``module`` (``[]`` for none)."""
        for name in (module, *ALIASES.get(module, ()), *self._hints):
            if module in self._top_levels(name):
                return [self.canonical_name(name)]
        everything = self._everything
        if everything is None:
            from importlib.metadata import packages_distributions

            everything = self._everything = packages_distributions()
        return list(everything.get(module, ()))

    def pin(self, name: str) -> str:
        """``name==<installed version>`` (local label dropped), or ``name`` when not installed."""
        found = self._header(name)
        if found is None:
            return name
        canonical, version = found
        return f"{canonical}=={version.split('+', 1)[0]}"

    def canonical_name(self, name: str) -> str:
        found = self._header(name)
        return found[0] if found else name

    def _dist(self, name: str) -> Distribution | None:
        if name not in self._dists:
            from importlib.metadata import PackageNotFoundError, distribution

            try:
                self._dists[name] = distribution(name)
            except (PackageNotFoundError, ValueError):
                self._dists[name] = None
        return self._dists[name]

    def _header(self, name: str) -> tuple[str, str] | None:
        if name not in self._headers:
            dist = self._dist(name)
            text = None if dist is None else dist.read_text("METADATA") or dist.read_text("PKG-INFO")
            if not text:
                return None
            head: dict[str, str] = {m[1]: m[2] for m in _HEADER.finditer(text.split("\n\n", 1)[0])}
            if "Version" not in head:
                return None
            self._headers[name] = (head.get("Name", name), head["Version"])
        return self._headers[name]

    def _top_levels(self, name: str) -> frozenset[str]:
        if name not in self._tops:
            dist = self._dist(name)
            listed = dist.read_text("top_level.txt") if dist is not None else None
            if listed is not None:
                self._tops[name] = frozenset(listed.split())
            else:
                record = (dist.read_text("RECORD") if dist is not None else None) or ""
                self._tops[name] = frozenset(filter(None, map(_record_top, record.splitlines())))
        return self._tops[name]


def _record_top(line: str) -> str:
    """The top-level module a RECORD line installs ('' for metadata and scripts)."""
    path = line.split(",", 1)[0]
    first, slash, _ = path.partition("/")
    if (
        first.startswith("..")
        or first.endswith((".dist-info", ".data", ".egg-info"))
        or first == "__pycache__"
    ):
        return ""
    if slash:
        return first
    stem, dot, suffix = first.partition(".")
    return stem if dot and (suffix == "py" or suffix.endswith(("so", "pyd"))) else ""
