"""safe_relpath: every artifact path is relative, normalized and unable to leave its root."""

from __future__ import annotations

import posixpath
from pathlib import PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml.artifacts import safe_relpath
from loopml.errors import InvalidInput

ESCAPES = [
    "..",
    "../x",
    "a/../../x",
    "a/..",
    "a/b/../c",
    "./../x",
    "a//..//..//x",
    "/etc/passwd",
    "/",
    "//server/share/x",
    "C:\\Windows\\x",
    "C:/Windows/x",
    "c:x",
    "\\\\server\\share\\x",
    "..\\x",
    "a\\..\\..\\x",
    "%2e%2e%2fx",
    "%2E%2E/x",
    "a/%2e%2e/%2e%2e/x",
    "..%2fx",
    "%2fetc%2fpasswd",
    "%5c%5cserver",
    "%252e%252e%252fx",
    "%25252e%25252e/x",
    "a\x00b",
    "a%00b",
    "~",
    "~/x",
    "~root/.ssh/id_rsa",
    "%7e/x",
    "s3://bucket/x",
    "file:///etc/passwd",
    "file:x",
    "http://host/x",
    "epoch:3.png",  # a leading 'word:' reads as a URL scheme
    "\uff0e\uff0e/x",  # fullwidth dots, '..' after NFKC
    "a/.. /x",  # Windows strips trailing spaces
    "a/.../x",  # and trailing dots
]


@pytest.mark.parametrize("bad", ESCAPES)
def test_escaping_paths_are_rejected_naming_the_value(bad: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        safe_relpath(bad)
    assert repr(bad) in str(excinfo.value)
    assert excinfo.value.details["path"] == bad


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, ""),
        ("", ""),
        (".", ""),
        ("./", ""),
        ("a", "a"),
        ("a/b/c.txt", "a/b/c.txt"),
        ("./a//b/", "a/b"),
        ("a/./b/.", "a/b"),
        (PurePosixPath("models/m1"), "models/m1"),
        ("a..b/c..", "a..b/c.."),
        (".hidden/x", ".hidden/x"),
        ("a~b/~c", "a~b/~c"),
        ("100%.txt", "100%.txt"),
        ("a%20b.txt", "a%20b.txt"),  # kept verbatim: checked decoded, stored as given
        ("plots/epoch:3.png", "plots/epoch:3.png"),
        ("données/été.csv", "données/été.csv"),
    ],
)
def test_safe_paths_are_normalized(given: object, expected: str) -> None:
    assert safe_relpath(given) == expected  # type: ignore[arg-type]


def test_what_names_the_argument_in_the_message() -> None:
    with pytest.raises(InvalidInput, match=r"invalid artifact file '\.\./x'"):
        safe_relpath("../x", what="artifact file")


@pytest.mark.parametrize("bad", [b"a/b", 3, ["a"]])
def test_non_strings_are_rejected(bad: object) -> None:
    with pytest.raises(InvalidInput, match="must be a str"):
        safe_relpath(bad)  # type: ignore[arg-type]


def test_endlessly_nested_percent_encoding_is_rejected() -> None:
    deep = "%2e"
    for _ in range(12):
        deep = deep.replace("%", "%25")
    with pytest.raises(InvalidInput, match="too many times"):
        safe_relpath(deep)


@given(st.text(alphabet=st.sampled_from(list("ab./\\%25eEfF~:\x00 C")), max_size=24))
def test_any_accepted_path_stays_inside_the_root(text: str) -> None:
    try:
        rel = safe_relpath(text)
    except InvalidInput:
        return
    joined = posixpath.normpath(posixpath.join("/root", rel))
    assert joined == "/root" or joined.startswith("/root/")
    assert ".." not in rel.split("/")
    assert "\\" not in rel
    assert rel == "" or not rel.startswith("/")
