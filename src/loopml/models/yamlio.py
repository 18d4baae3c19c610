"""YAML in and out, with libyaml's C implementation when PyYAML has it."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput

__all__ = ["dump_yaml", "load_yaml"]


def dump_yaml(data: Any) -> str:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    try:
        text: str = yaml.dump(
            data, Dumper=dumper, sort_keys=False, allow_unicode=True, default_flow_style=False
        )
    except yaml.YAMLError as exc:
        raise InvalidInput(f"cannot write YAML: {exc}") from exc
    return text


def load_yaml(text: str | bytes, *, what: str) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{what} is not valid YAML: {exc}") from exc
