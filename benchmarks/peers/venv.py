"""Create and locate the peers' venvs under ``benchmarks/.peers/`` (gitignored).

Each peer gets its own venv so that its dependencies never meet loopml's::

    python -m venv benchmarks/.peers/mlflow
    benchmarks/.peers/mlflow/bin/pip install mlflow==3.17.2 scikit-learn pandas
    python -m venv benchmarks/.peers/prefect
    benchmarks/.peers/prefect/bin/pip install prefect==3.9.1

:func:`mlflow_python` and :func:`prefect_python` do exactly that when asked to install,
and otherwise only look for an existing venv.
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


def mlflow_python(install: bool, venv: Path | None = None) -> PeerEnv:
    """The MLflow peer venv; with ``install``, create it (or fix its mlflow version) first."""
    venv = venv or PEERS_DIR / "mlflow"
    python = venv_python(venv)
    version = installed_version(python, "mlflow") if python.exists() else None
    if install and version != MLFLOW_VERSION:
        try:
            create_venv(venv, MLFLOW_REQUIREMENTS)
        except (OSError, subprocess.CalledProcessError) as e:
            return PeerEnv("mlflow", venv, None, None, f"creating the venv failed: {e}")
        version = installed_version(python, "mlflow")
    if version is None:
        hint = "run with --install-peers to create it" if not install else "mlflow is not importable there"
        return PeerEnv("mlflow", venv, None, None, f"no MLflow venv at {venv}: {hint}; peers skipped")
    note = f"mlflow {version} from {venv}"
    if version != MLFLOW_VERSION:
        note += f" (expected {MLFLOW_VERSION}; --install-peers pins it)"
    return PeerEnv("mlflow", venv, python, version, note)


def prefect_python(install: bool, venv: Path | None = None) -> PeerEnv:
    """The Prefect peer venv; with ``install``, create it (or fix its prefect version) first."""
    venv = venv or PEERS_DIR / "prefect"
    python = venv_python(venv)
    version = installed_version(python, "prefect") if python.exists() else None
    if install and version != PREFECT_VERSION:
        try:
            create_venv(venv, PREFECT_REQUIREMENTS)
        except (OSError, subprocess.CalledProcessError) as e:
            return PeerEnv("prefect", venv, None, None, f"creating the venv failed: {e}")
        version = installed_version(python, "prefect")
    if version is None:
        hint = "run with --install-peers to create it" if not install else "prefect is not importable there"
        return PeerEnv("prefect", venv, None, None, f"no Prefect venv at {venv}: {hint}; peers skipped")
    note = f"prefect {version} from {venv}"
    if version != PREFECT_VERSION:
        note += f" (expected {PREFECT_VERSION}; --install-peers pins it)"
    return PeerEnv("prefect", venv, python, version, note)


def worker_commands(loopml_script: Path, peer_script: Path, peer: PeerEnv | None) -> dict[str, list[str]]:
    """The command of each side: loopml's worker under this interpreter, the peer's under its venv."""
    cmds = {"loopml": [sys.executable, str(loopml_script), "--_worker"]}
    if peer is not None and peer.python is not None:
        cmds["mlflow"] = [str(peer.python), str(peer_script)]
    return cmds
