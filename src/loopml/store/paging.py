"""Page tokens: the opaque ``token`` a paged search returns and takes back to fetch the next page.

A token is the URL-safe base64 (without padding) of a small JSON object, ``{"offset": n}``.
Tokens are opaque to users; only the store reads them.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from loopml.errors import InvalidInput

__all__ = ["decode_page_token", "encode_page_token"]

_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


def encode_page_token(offset: int) -> str:
    """The token that resumes a search at row ``offset`` (0-based)."""
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"a page offset is a non-negative integer, got {offset!r}")
    raw = json.dumps({"offset": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_page_token(token: str | None) -> int:
    """The offset a token stands for; ``None`` or ``""`` is the first page (offset 0).

    Raises :class:`~loopml.errors.InvalidInput` naming the token when it was not made by
    :func:`encode_page_token`.
    """
    if not token:
        return 0
    offset = _offset(token) if isinstance(token, str) and _TOKEN.fullmatch(token) else None
    if offset is None:
        raise InvalidInput(
            f"invalid page token {token!r}: pass back the token a previous search returned, "
            "or none for the first page",
            page_token=token,
        )
    return offset


def _offset(token: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):  # bad base64, bad UTF-8, bad JSON
        return None
    offset = data.get("offset") if isinstance(data, dict) else None
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        return None
    return offset
