"""Create and locate the peers' venvs under ``benchmarks/.peers/`` (gitignored).

Each peer gets its own venv so that its dependencies never meet loopml's::

    python -m venv benchmarks/.peers/mlflow
    benchmarks/.peers/mlflow/bin/pip install mlflow==3.17.2 scikit-learn pandas
    python -m venv benchmarks/.peers/prefect
    benchmarks/.peers/prefect/bin/pip install prefect==3.9.1
    python -m venv benchmarks/.peers/bentoml
    benchmarks/.peers/bentoml/bin/pip install bentoml==1.4.40 scikit-learn pandas
    python -m venv benchmarks/.peers/fastapi
    benchmarks/.peers/fastapi/bin/pip install fastapi==0.165.0 uvicorn scikit-learn pandas orjson

:func:`peer_python` does exactly that when asked to install, and otherwise only looks for
an existing venv; :func:`mlflow_python`, :func:`prefect_python`, :func:`bentoml_python` and
:func:`fastapi_python` call it for each peer.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PEERS_DIR = Path(__file__).resolve().parents[1] / ".peers"
MLFLOW_VERSION = "3.17.2"
MLFLOW_REQUIREMENTS = (f"mlflow=={MLFLOW_VERSION}", "scikit-learn", "pandas")
PREFECT_VERSION = "3.9.1"
PREFECT_REQUIREMENTS = (f"prefect=={PREFECT_VERSION}",)
BENTOML_VERSION = "1.4.40"
BENTOML_REQUIREMENTS = (f"bentoml=={BENTOML_VERSION}", "scikit-learn", "pandas")
FASTAPI_VERSION = "0.165.0"
# plain uvicorn (no uvloop/httptools), as ../shared/bench/serving_bench.py measured it
FASTAPI_REQUIREMENTS = (f"fastapi=={FASTAPI_VERSION}", "uvicorn", "scikit-learn", "pandas", "orjson")
DISPLAY_NAMES = {"mlflow": "MLflow", "prefect": "Prefect", "bentoml": "BentoML", "fastapi": "FastAPI"}


@dataclass(frozen=True)
class PeerEnv:
    """A peer's venv: its python (None when unusable) and a note saying why or what."""

    name: str
    venv: Path
    python: Path | None
    version: str | None
    note: str


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def installed_version(python: Path, dist: str) -> str | None:
    """Version of distribution ``dist`` in the venv of ``python`` (without importing it)."""
    code = f"import importlib.metadata as m;print(m.version({dist!r}))"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return out.stdout.strip() if out.returncode == 0 else None


def create_venv(venv: Path, requirements: tuple[str, ...]) -> None:
    """``python -m venv VENV`` then ``VENV/bin/python -m pip install REQUIREMENTS``."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    if not venv_python(venv).exists():
        print(f"creating venv {venv}", file=sys.stderr, flush=True)
        # cwd: never next to peers/venv.py, which "-m venv" would pick up instead of the stdlib
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, cwd=venv.parent)
    print(f"installing {' '.join(requirements)} into {venv}", file=sys.stderr, flush=True)
    cmd = [str(venv_python(venv)), "-m", "pip", "install", "--disable-pip-version-check", *requirements]
    subprocess.run(cmd, check=True, stdout=sys.stderr)


def peer_python(
    name: str, dist: str, version: str, requirements: tuple[str, ...], install: bool, venv: Path | None = None
) -> PeerEnv:
    """The venv of peer ``name`` (default ``PEERS_DIR/name``) and the version of ``dist`` in it.

    With ``install``, create the venv (or pin ``dist`` to ``version``) first.
    """
    venv = venv or PEERS_DIR / name
    python = venv_python(venv)
    found = installed_version(python, dist) if python.exists() else None
    if install and found != version:
        try:
            create_venv(venv, requirements)
        except (OSError, subprocess.CalledProcessError) as e:
            return PeerEnv(name, venv, None, None, f"creating the venv failed: {e}")
        found = installed_version(python, dist)
    if found is None:
        hint = "run with --install-peers to create it" if not install else f"{dist} is not importable there"
        label = DISPLAY_NAMES.get(name, name)
        return PeerEnv(name, venv, None, None, f"no {label} venv at {venv}: {hint}; peers skipped")
    return PeerEnv(name, venv, python, found, version_note(dist, found, version, venv))


def version_note(dist: str, found: str, expected: str, venv: Path) -> str:
    note = f"{dist} {found} from {venv}"
    if found != expected:
        note += f" (expected {expected}; --install-peers pins it)"
    return note


def mlflow_python(install: bool, venv: Path | None = None) -> PeerEnv:
    """The MLflow peer venv; with ``install``, create it (or fix its mlflow version) first."""
    return peer_python("mlflow", "mlflow", MLFLOW_VERSION, MLFLOW_REQUIREMENTS, install, venv)


def prefect_python(install: bool, venv: Path | None = None) -> PeerEnv:
    """The Prefect peer venv; with ``install``, create it (or fix its prefect version) first."""
    return peer_python("prefect", "prefect", PREFECT_VERSION, PREFECT_REQUIREMENTS, install, venv)


def bentoml_python(install: bool, venv: Path | None = None) -> PeerEnv:
    """The BentoML peer venv; with ``install``, create it (or fix its bentoml version) first."""
    return peer_python("bentoml", "bentoml", BENTOML_VERSION, BENTOML_REQUIREMENTS, install, venv)


def fastapi_python(install: bool, venv: Path | None = None) -> PeerEnv:
    """The bare FastAPI app's venv; with ``install``, create it (or fix its fastapi version) first."""
    return peer_python("fastapi", "fastapi", FASTAPI_VERSION, FASTAPI_REQUIREMENTS, install, venv)


def worker_commands(loopml_script: Path, peer_script: Path, peer: PeerEnv | None) -> dict[str, list[str]]:
    """The command of each side: loopml's worker under this interpreter, the peer's under its venv."""
    cmds = {"loopml": [sys.executable, str(loopml_script), "--_worker"]}
    if peer is not None and peer.python is not None:
        cmds[peer.name] = [str(peer.python), str(peer_script)]
    return cmds
