"""Reference profiles stored with runs and model versions, so drift needs no training data later.

Where a reference lives:

- ``log_model(..., training_data=df)`` writes ``reference_profile.parquet`` into the model's own
  directory (listed in its manifest like every other file);
- ``log_reference(data, run_id=...)`` writes ``reference/profile.parquet`` among a run's
  artifacts; with ``model_uri=`` it writes it to the version's run and tags the version
  (``loopml.reference_profile``) with where it is, which then wins over the model's own file.

:func:`load_reference` finds it again from a ``models:/`` URI, a ``runs:/`` URI, a path or a URL.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from ..entities import ModelVersion
    from ..tracking.client import Client
    from .profiles import Profile

__all__ = [
    "MODEL_REFERENCE_FILE",
    "REFERENCE_TAG",
    "RUN_REFERENCE_PATH",
    "as_profile",
    "load_reference",
    "log_reference",
    "write_reference_file",
]

#: The reference profile's file inside a model directory (``log_model(training_data=...)``).
MODEL_REFERENCE_FILE = "reference_profile.parquet"
#: Where ``log_reference`` puts a run's reference profile among its artifacts.
RUN_REFERENCE_PATH = "reference/profile.parquet"
#: The model-version tag naming the reference profile logged for it with ``log_reference``.
REFERENCE_TAG = "loopml.reference_profile"


def as_profile(data: Any, **options: Any) -> Profile:
    """``data`` itself when it is a :class:`Profile`, else its profile (a DataFrame or a file)."""
    from .profiles import Profile, profile

    if isinstance(data, Profile):
        return data
    return profile(data, **options)


def write_reference_file(data: Any, directory: Path) -> str:
    """Profile ``data`` into ``directory/reference_profile.parquet``; returns the file name."""
    as_profile(data).to_parquet(str(directory / MODEL_REFERENCE_FILE))
    return MODEL_REFERENCE_FILE


def log_reference(
    data: Any,
    *,
    run_id: str | None = None,
    model_uri: str | None = None,
    sample_size: int = 10_000,
) -> str:
    """Store the reference profile of ``data`` (a DataFrame, a :class:`Profile`, or a path, glob
    or URL of Parquet/CSV/JSON Lines) and return the ``runs:/`` URI it is stored at.

    With ``model_uri`` (``models:/name/3``, ``@alias``, ``/Stage``) the profile goes to that
    version's run and the version is tagged with it, so ``loopml monitor`` finds it. Otherwise
    it goes to ``run_id``, or to the active run.
    """
    from ..tracking import fluent

    client = fluent._client()
    version = None
    if model_uri is not None:
        version = client.registry.resolve_model_version(_models_uri(model_uri))
        if run_id is None:
            run_id = version.run_id
        if run_id is None:
            raise InvalidInput(
                f"model version {version.name}/{version.version} was not logged from a run; "
                "give run_id= to say which run keeps its reference profile",
                model_uri=model_uri,
            )
    elif run_id is None:
        active = fluent.active_run()
        if active is None:
            raise InvalidInput("no active run: give run_id= or model_uri=, or call it inside start_run()")
        client, run_id = active.client, active.run_id
    reference = as_profile(data, sample_size=sample_size)
    client.get_run(run_id)  # NotFound before anything is written
    with tempfile.TemporaryDirectory(prefix="loopml-reference-") as tmp:
        local = Path(tmp, Path(RUN_REFERENCE_PATH).name)
        reference.to_parquet(str(local))
        client.artifact_store(run_id).log_file(local, str(Path(RUN_REFERENCE_PATH).parent))
    uri = f"runs:/{run_id}/{RUN_REFERENCE_PATH}"
    if version is not None:
        client.set_model_version_tag(version.name, version.version, REFERENCE_TAG, uri)
    return uri


def load_reference(uri: str | os.PathLike[str], *, client: Client | None = None) -> Profile:
    """The reference profile ``uri`` names: a ``models:/`` URI (the version's tagged profile, else
    the one in its model directory), ``runs:/<run_id>`` (its ``reference/profile.parquet``),
    ``runs:/<run_id>/<model path>`` (the model's own reference) or ``runs:/<run_id>/<file>``,
    or a path or URL of a profile (``.parquet`` or ``.json``)."""
    from ..tracking import fluent

    text = os.fspath(uri)
    if text.startswith("models:"):
        client = client or fluent._client()
        return reference_of_version(client.registry.resolve_model_version(text), client)
    if text.startswith("runs:"):
        return _run_reference(text, client or fluent._client())
    return _read_profile(text)


def reference_of_version(version: ModelVersion, client: Client) -> Profile:
    """The reference profile of a registry version (see :func:`load_reference`)."""
    tagged = version.tags.get(REFERENCE_TAG)
    if tagged:
        return load_reference(tagged, client=client)
    location = version.storage_location.rstrip("/") + "/" + MODEL_REFERENCE_FILE
    try:
        return _read_profile(location)
    except NotFound:
        raise NotFound(
            f"model version {version.name}/{version.version} has no reference profile; log one with "
            f"loopml.log_reference(df, model_uri='models:/{version.name}/{version.version}') or "
            "log_model(..., training_data=df)",
            name=version.name,
            version=version.version,
        ) from None


def _run_reference(uri: str, client: Client) -> Profile:
    rest = uri[len("runs:") :].lstrip("/")
    run_id, _, path = rest.partition("/")
    if not run_id:
        raise InvalidInput(f"invalid runs:/ URI {uri!r}: expected runs:/<run_id>[/<path>]", uri=uri)
    path = path.strip("/") or RUN_REFERENCE_PATH
    if not path.endswith((".parquet", ".json")):  # a model directory: its own reference file
        path = f"{path}/{MODEL_REFERENCE_FILE}"
    store = client.artifact_store(run_id)
    if not store.exists(path):
        raise NotFound(f"run {run_id} has no reference profile at {path!r}", run_id=run_id, path=path)
    with tempfile.TemporaryDirectory(prefix="loopml-reference-") as tmp:
        return _read_profile(store.download(path, tmp))


def _read_profile(location: str) -> Profile:
    from .profiles import Profile

    try:
        if location.endswith(".json"):
            return Profile.from_json(_read_text(location))
        return Profile.from_parquet(location)
    except FileNotFoundError:
        raise NotFound(f"no reference profile at {location!r}", location=location) from None


def _read_text(location: str) -> str:
    import fsspec

    with fsspec.open(location, "r", encoding="utf-8") as f:
        return str(f.read())


def _models_uri(uri: str) -> str:
    if not isinstance(uri, str) or not uri.startswith("models:/"):
        raise InvalidInput(f"model_uri must be a models:/ URI, got {uri!r}", model_uri=repr(uri))
    return uri
