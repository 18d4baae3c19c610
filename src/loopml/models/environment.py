"""The Python environment a saved model needs: requirements.txt, python_env.yaml, conda.yaml.

Requirements are captured from what is known, in milliseconds — no subprocess, no pip, no
import tracing:

1. the packages the flavor needs (``scikit-learn`` and ``numpy`` for sklearn, ``cloudpickle``
   for python functions, ...);
2. the top-level modules of the objects the model is made of: the model's class, the steps of a
   pipeline (through ``get_params``), the attributes of a python-function model, the globals and
   closure of a function — mapped to their distributions by
   :class:`~loopml.models.installed.InstalledDistributions` (the likely providers first,
   ``importlib.metadata.packages_distributions()`` once if they are not enough);
3. ``loopml`` itself, always.

Each is pinned to the installed version (the ``Version:`` of its METADATA; a local version
label such as ``+cpu`` is dropped). ``pip_requirements`` replaces the inferred list;
``extra_pip_requirements`` adds to it (replacing an inferred pin of the same package).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import InvalidInput
from .installed import InstalledDistributions

__all__ = [
    "Environment",
    "capture_environment",
    "infer_requirements",
    "model_modules",
    "write_environment",
]

REQUIREMENTS_FILE = "requirements.txt"
PYTHON_ENV_FILE = "python_env.yaml"
CONDA_FILE = "conda.yaml"

_BUILD_DEPENDENCIES = ("pip", "setuptools", "wheel")
# objects of these libraries are data, not structure: their attributes are not walked
_OPAQUE = frozenset({"numpy", "pandas", "scipy", "pyarrow", "polars", "torch", "tensorflow", "jax"})
_MAX_OBJECTS = 5000
_MAX_DEPTH = 5
_MAX_ITEMS = 100
_NAME = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
_URL = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.-]*://")
Requirements = Sequence[str] | str | os.PathLike[str]


@dataclass(frozen=True)
class Environment:
    """What a model needs: a Python version, pip requirements, and the build tools used."""

    python_version: str
    requirements: tuple[str, ...]
    build_dependencies: tuple[str, ...]


def capture_environment(
    model: Any,
    packages: Iterable[str],
    *,
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
) -> Environment:
    """The environment of ``model``, saved with the flavor's ``packages``; see the module docstring."""
    if pip_requirements is not None and extra_pip_requirements is not None:
        raise InvalidInput(
            "pass pip_requirements (replaces the inferred requirements) or extra_pip_requirements"
            " (adds to them), not both"
        )
    packages = tuple(packages)
    installed = InstalledDistributions(packages)
    if pip_requirements is not None:
        lines = _requirement_lines(pip_requirements, "pip_requirements")
    else:
        lines = infer_requirements(model, packages, installed)
        if extra_pip_requirements is not None:
            lines = _merge(lines, _requirement_lines(extra_pip_requirements, "extra_pip_requirements"))
    if not any(_name_of(line) == "loopml" for line in lines):
        lines = [f"loopml=={__version__}", *lines]
    build = tuple(installed.pin(name) for name in _BUILD_DEPENDENCIES)
    return Environment(_python_version(), tuple(lines), build)


def infer_requirements(
    model: Any, packages: Iterable[str], installed: InstalledDistributions | None = None
) -> list[str]:
    """``loopml==<version>`` then the pinned distributions ``model`` is made of, sorted."""
    packages = tuple(packages)
    installed = installed or InstalledDistributions(packages)
    names: dict[str, str] = {}
    for name in (*packages, *_distributions_of(model_modules(model), installed)):
        names.setdefault(_normalize(name), name)
    names.pop("loopml", None)
    return [f"loopml=={__version__}", *(installed.pin(names[key]) for key in sorted(names))]


def model_modules(model: Any) -> set[str]:
    """The top-level modules of the objects ``model`` is made of (bounded walk, no imports)."""
    found: set[str] = set()
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(model, 0)]
    while stack and len(seen) < _MAX_OBJECTS:
        obj, depth = stack.pop()
        if id(obj) in seen or obj is None or isinstance(obj, str | bytes | int | float | complex):
            continue
        seen.add(id(obj))
        module = _module_name(obj)
        if module:
            found.add(module.partition(".")[0])
        if depth < _MAX_DEPTH:
            stack.extend((child, depth + 1) for child in _children(obj, module, depth))
    return found


def write_environment(env: Environment, model_dir: Path) -> None:
    """Write requirements.txt, python_env.yaml and conda.yaml into ``model_dir``."""
    from .yamlio import dump_yaml

    (model_dir / REQUIREMENTS_FILE).write_text("".join(f"{line}\n" for line in env.requirements))
    python_env = {
        "python": env.python_version,
        "build_dependencies": list(env.build_dependencies),
        "dependencies": [f"-r {REQUIREMENTS_FILE}"],
    }
    (model_dir / PYTHON_ENV_FILE).write_text(dump_yaml(python_env))
    conda = {
        "name": "loopml-env",
        "channels": ["conda-forge"],
        "dependencies": [f"python={env.python_version}", "pip", {"pip": list(env.requirements)}],
    }
    (model_dir / CONDA_FILE).write_text(dump_yaml(conda))


def _module_name(obj: Any) -> str | None:
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    if isinstance(obj, type | types.FunctionType | types.BuiltinFunctionType | types.MethodType):
        return getattr(obj, "__module__", None)
    return type(obj).__module__


def _children(obj: Any, module: str | None, depth: int) -> list[Any]:
    if isinstance(obj, types.ModuleType):
        return []
    if isinstance(obj, list | tuple | set | frozenset):
        return list(islice(obj, _MAX_ITEMS))
    if isinstance(obj, dict):
        return list(islice(obj.values(), _MAX_ITEMS))
    if isinstance(obj, types.FunctionType):
        return _function_refs(obj)
    if isinstance(obj, types.MethodType):
        return [obj.__self__, obj.__func__]
    if isinstance(obj, type):
        return [v for v in vars(obj).values() if isinstance(v, types.FunctionType)]
    children: list[Any] = []
    get_params = getattr(obj, "get_params", None)
    if not callable(get_params) and (depth == 0 or module == "__main__"):
        children.append(type(obj))  # the methods of the model's own class, and of notebook classes
    if callable(get_params):
        # a best-effort walk: an estimator whose get_params fails only loses detail
        with contextlib.suppress(Exception):
            children.extend(get_params(deep=False).values())
    elif (module or "").partition(".")[0] not in _OPAQUE and hasattr(obj, "__dict__"):
        children.extend(islice(vars(obj).values(), _MAX_ITEMS))
    return children


def _function_refs(fn: types.FunctionType) -> list[Any]:
    """What a function uses: the globals it names, its closure and its defaults."""
    refs: list[Any] = [fn.__globals__[n] for n in fn.__code__.co_names if n in fn.__globals__]
    refs.extend(cell.cell_contents for cell in fn.__closure__ or () if _cell_filled(cell))
    refs.extend(fn.__defaults__ or ())
    return refs


def _cell_filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:  # an empty cell
        return False
    return True


def _distributions_of(modules: set[str], installed: InstalledDistributions) -> list[str]:
    """The installed distributions providing ``modules`` (stdlib and local code have none)."""
    wanted = modules - sys.stdlib_module_names - {"__main__", "builtins", "loopml"}
    sites = _site_dirs() if wanted else ()
    return [
        dist
        for module in sorted(wanted)
        if _is_installed(module, sites)
        for dist in installed.providers(module)
    ]


def _site_dirs() -> tuple[str, ...]:
    import site
    import sysconfig

    dirs = [*site.getsitepackages(), site.getusersitepackages()]
    dirs += [sysconfig.get_paths()[key] for key in ("purelib", "platlib")]
    return tuple({os.path.join(os.path.realpath(d), "") for d in dirs})


def _is_installed(module: str, sites: tuple[str, ...]) -> bool:
    """False for a module imported from outside site-packages: local code that shares its name
    with an installed distribution's top-level package (``tests``, ``utils``)."""
    loaded = sys.modules.get(module)
    origin = getattr(loaded, "__file__", None) or next(iter(getattr(loaded, "__path__", None) or ()), None)
    if not isinstance(origin, str):
        return True
    return os.path.realpath(origin).startswith(sites)


def _python_version() -> str:
    return ".".join(str(part) for part in sys.version_info[:3])


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _name_of(line: str) -> str | None:
    """The normalized package a requirement line names, or None (an option, a URL, a path)."""
    if line.lstrip().startswith(("-", ".", "/")) or _URL.match(line):
        return None
    match = _NAME.match(line)
    return _normalize(match.group(1)) if match else None


def _merge(inferred: list[str], extra: list[str]) -> list[str]:
    replaced = {name for name in map(_name_of, extra) if name}
    return [line for line in inferred if _name_of(line) not in replaced] + extra


def _requirement_lines(value: Requirements, what: str) -> list[str]:
    if isinstance(value, str | os.PathLike):
        path = Path(value)
        if not path.is_file():
            raise InvalidInput(
                f"{what} is a str, so it must name a requirements file, and {str(path)!r} is not one;"
                " pass a list of requirement strings instead",
                path=str(path),
            )
        raw: Iterable[Any] = path.read_text().splitlines()
        raw = [line.split(" #", 1)[0].strip() for line in raw if not line.lstrip().startswith("#")]
        raw = [line for line in raw if line]
    else:
        raw = list(value)
    lines = []
    for line in raw:
        if not isinstance(line, str) or not line.strip() or "\n" in line:
            raise InvalidInput(f"{what} must be requirement strings, got {line!r}", value=repr(line))
        lines.append(line.strip())
    return lines
