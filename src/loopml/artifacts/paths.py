"""The one gate every artifact path passes: relative, normalized, and unable to leave its root.

An artifact path comes from user code, a REST request or a stored listing. Before it is joined to
an artifact root it must be a plain relative POSIX path. :func:`safe_relpath` checks the value as
given and every layer of its percent-decoding (``%2e%2e%2f``, ``%252e%252e``) and its Unicode NFKC
form (fullwidth dots, U+FF0E), because any of them may be decoded again further down the line (an HTTP
server, a URL builder, a filesystem).
"""

from __future__ import annotations

import os
import re
import unicodedata
from typing import NoReturn
from urllib.parse import unquote

from loopml.errors import InvalidInput

__all__ = ["safe_relpath"]

_MAX_DECODE_ROUNDS = 8
# "s3:", "file:", "C:" (a drive letter is a one-letter scheme to this pattern).
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def safe_relpath(path: str | os.PathLike[str] | None, *, what: str = "artifact path") -> str:
    """Return ``path`` as a normalized relative POSIX path (``''`` for ``None``, ``''`` or ``'.'``).

    ``./`` segments and repeated or trailing slashes are collapsed. Raises
    :class:`~loopml.errors.InvalidInput`, naming the value, when the path could reach outside
    the directory it is joined to: a ``..`` segment, an absolute path (``/x``, ``C:\\x``,
    ``\\\\server``), a backslash, a percent-encoded form of any of these, a NUL byte, a leading
    ``~`` or a URL scheme (``s3://``, ``file:``).
    """
    if path is None:
        return ""
    raw: object = os.fspath(path) if isinstance(path, str | os.PathLike) else path
    if not isinstance(raw, str):
        raise InvalidInput(f"{what} must be a str, got {type(raw).__name__}: {raw!r}", path=repr(raw))
    for layer in _layers(raw, what):
        _check_layer(raw, layer, what)
    return "/".join(seg for seg in raw.split("/") if seg not in ("", "."))


def _layers(raw: str, what: str) -> list[str]:
    """``raw``, each successive percent-decoding of it, and the NFKC form of each."""
    layers = [raw]
    current = raw
    for _ in range(_MAX_DECODE_ROUNDS):
        decoded = unquote(current, errors="replace") if "%" in current else current
        if decoded == current:
            break
        layers.append(decoded)
        current = decoded
    else:
        _reject(raw, what, "it is percent-encoded too many times over")
    return layers + [unicodedata.normalize("NFKC", layer) for layer in layers]


def _check_layer(raw: str, layer: str, what: str) -> None:
    if "\x00" in layer:
        _reject(raw, what, "it contains a NUL byte")
    if "\\" in layer:
        _reject(raw, what, "it contains a backslash (use '/' as the separator)")
    if layer.startswith("/"):
        _reject(raw, what, "it is absolute")
    if _SCHEME.match(layer):
        _reject(raw, what, "it starts with a URL scheme or a drive letter")
    if layer.startswith("~"):
        _reject(raw, what, "a leading '~' would expand to a home directory")
    for segment in layer.split("/"):
        # Windows drops trailing dots and spaces, so '.. ' and '...' name the parent there too.
        if segment not in ("", ".") and not segment.rstrip(". "):
            _reject(raw, what, f"the segment {segment!r} refers to a parent directory")


def _reject(raw: str, what: str, reason: str) -> NoReturn:
    raise InvalidInput(
        f"invalid {what} {raw!r}: {reason}; give a relative path that stays inside the artifact root",
        path=raw,
    )
