"""``loopml-model.yaml``: what a model directory holds and how to load it.

The descriptor names the flavor and its loader module, the versions of loopml and Python that
saved the model, the signature, the UTC creation time, the run it was logged to, free-form
metadata, and a manifest — the sha256 of every other file in the directory — which
:func:`verify` checks before a model is loaded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import InvalidInput, NotFound
from .signature import ModelSignature

__all__ = [
    "DESCRIPTOR_FILE",
    "ModelDescriptor",
    "build_manifest",
    "read_descriptor",
    "verify",
    "write_descriptor",
]

DESCRIPTOR_FILE = "loopml-model.yaml"
FORMAT_VERSION = 1
_IGNORED_DIRS = frozenset({"__pycache__"})  # Python writes these when code/ is imported


@dataclass(frozen=True)
class ModelDescriptor:
    """The content of ``loopml-model.yaml``."""

    flavor: str
    loader_module: str
    flavor_config: Mapping[str, Any] = field(default_factory=dict)
    loopml_version: str = __version__
    python_version: str = ""
    created_at: str = ""  # UTC, ISO 8601
    run_id: str | None = None
    artifact_path: str | None = None
    signature: ModelSignature | None = None
    input_example: str | None = None  # file name inside the model directory
    code_dir: str | None = None  # directory added to sys.path before loading
    metadata: Mapping[str, Any] = field(default_factory=dict)
    manifest: Mapping[str, str] = field(default_factory=dict)  # relative path -> sha256

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "flavor": self.flavor,
            "loader_module": self.loader_module,
            "flavor_config": dict(self.flavor_config),
            "loopml_version": self.loopml_version,
            "python_version": self.python_version,
            "created_at": self.created_at,
            "run_id": self.run_id,
            "artifact_path": self.artifact_path,
            "signature": None if self.signature is None else self.signature.to_dict(),
            "input_example": self.input_example,
            "code_dir": self.code_dir,
            "metadata": dict(self.metadata),
            "manifest": dict(self.manifest),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = DESCRIPTOR_FILE) -> ModelDescriptor:
        version = data.get("format_version", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise InvalidInput(
                f"{source} has format version {version!r}, newer than this loopml reads ({FORMAT_VERSION});"
                " upgrade loopml",
                format_version=repr(version),
            )
        if not isinstance(data.get("flavor"), str) or not isinstance(data.get("loader_module"), str):
            raise InvalidInput(f"{source} does not name a flavor and its loader module", source=source)
        signature = data.get("signature")
        return cls(
            flavor=data["flavor"],
            loader_module=data["loader_module"],
            flavor_config=dict(data.get("flavor_config") or {}),
            loopml_version=str(data.get("loopml_version", "")),
            python_version=str(data.get("python_version", "")),
            created_at=str(data.get("created_at", "")),
            run_id=data.get("run_id"),
            artifact_path=data.get("artifact_path"),
            signature=None if signature is None else ModelSignature.from_dict(signature),
            input_example=data.get("input_example"),
            code_dir=data.get("code_dir"),
            metadata=dict(data.get("metadata") or {}),
            manifest={str(k): str(v) for k, v in (data.get("manifest") or {}).items()},
        )


def now_utc_iso() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="milliseconds")


def write_descriptor(descriptor: ModelDescriptor, model_dir: Path) -> ModelDescriptor:
    """Write ``loopml-model.yaml`` with a fresh manifest of ``model_dir``; returns what was written."""
    from .yamlio import dump_yaml

    final = replace(descriptor, manifest=build_manifest(model_dir))
    (model_dir / DESCRIPTOR_FILE).write_text(dump_yaml(final.to_dict()))
    return final


def read_descriptor(model_dir: Path) -> ModelDescriptor:
    """The descriptor of ``model_dir``; NotFound when it is not a loopml model directory."""
    from .yamlio import load_yaml

    path = model_dir / DESCRIPTOR_FILE
    try:
        text = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(
            f"{str(model_dir)!r} is not a loopml model: it has no {DESCRIPTOR_FILE}", path=str(model_dir)
        ) from None
    data = load_yaml(text, what=str(path))
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{str(path)!r} does not describe a model (not a mapping)", path=str(path))
    return ModelDescriptor.from_dict(data, source=str(path))


def build_manifest(model_dir: Path) -> dict[str, str]:
    """``{relative POSIX path: sha256}`` of every file under ``model_dir`` but the descriptor."""
    import hashlib

    manifest: dict[str, str] = {}
    for rel, path in _files(model_dir):
        with open(path, "rb") as fh:
            manifest[rel] = hashlib.file_digest(fh, "sha256").hexdigest()
    return manifest


def verify(model_dir: Path, descriptor: ModelDescriptor | None = None) -> None:
    """Check every file of ``model_dir`` against the manifest; InvalidInput naming each change."""
    descriptor = descriptor or read_descriptor(model_dir)
    current = build_manifest(model_dir)
    expected = descriptor.manifest
    modified = sorted(rel for rel in expected if rel in current and current[rel] != expected[rel])
    missing = sorted(rel for rel in expected if rel not in current)
    added = sorted(rel for rel in current if rel not in expected)
    if not (modified or missing or added):
        return
    problems = [f"model file {rel!r} was modified after it was saved (sha256 mismatch)" for rel in modified]
    problems += [f"model file {rel!r} was deleted after the model was saved" for rel in missing]
    problems += [f"model file {rel!r} was added after the model was saved" for rel in added]
    raise InvalidInput(
        "; ".join(problems) + f" (model directory {str(model_dir)!r}); save or log the model again",
        model_dir=str(model_dir),
        modified=modified,
        missing=missing,
        added=added,
    )


def _files(model_dir: Path) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for top, dirs, files in os.walk(model_dir):
        dirs[:] = sorted(d for d in dirs if d not in _IGNORED_DIRS)
        rel_top = os.path.relpath(top, model_dir)
        for name in sorted(files):
            rel = name if rel_top == "." else f"{Path(rel_top).as_posix()}/{name}"
            if rel != DESCRIPTOR_FILE:
                found.append((rel, os.path.join(top, name)))
    return found
