"""The tables of the metadata store, as SQLAlchemy Core metadata.

The Alembic migrations in ``migrations/versions`` create exactly these tables; a test
compares a migrated database with this metadata. ``SCHEMA_REVISION`` is the Alembic head
the code expects, so opening a store never has to load Alembic just to check it.
"""

from __future__ import annotations

import sqlalchemy as sa

SCHEMA_REVISION = "0007"

KEY_LENGTH = 250
ID_LENGTH = 32

metadata = sa.MetaData()

# SQLite makes INTEGER PRIMARY KEY the rowid (autoincrement); other databases get a BIGINT identity.
_row_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("experiment_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("artifact_location", sa.String(1024), nullable=False),
    sa.Column("lifecycle_stage", sa.String(16), nullable=False),
    sa.Column("creation_time", sa.BigInteger, nullable=False),
    sa.Column("last_update_time", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("name", name="uq_experiments_name"),
    sa.Index("ix_experiments_lifecycle_stage", "lifecycle_stage"),
)

experiment_tags = sa.Table(
    "experiment_tags",
    metadata,
    sa.Column(
        "experiment_id",
        sa.String(ID_LENGTH),
        sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("key", sa.String(KEY_LENGTH), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column(
        "experiment_id",
        sa.String(ID_LENGTH),
        sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("name", sa.String(KEY_LENGTH), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("start_time", sa.BigInteger, nullable=False),
    sa.Column("end_time", sa.BigInteger, nullable=True),
    sa.Column("lifecycle_stage", sa.String(16), nullable=False),
    sa.Column("artifact_uri", sa.String(1024), nullable=False),
    sa.Column("user_id", sa.String(256), nullable=False),
    sa.Column("source", sa.String(1024), nullable=False),
    sa.Column("parent_run_id", sa.String(ID_LENGTH), nullable=True),
    # Searches are scoped to experiments: this index serves the experiment filter, the lifecycle
    # filter and the default order; other attribute filters scan the experiment's runs through it.
    # Each further index costs every run insert and update a page write (see docs/architecture.md).
    sa.Index("ix_runs_experiment_start", "experiment_id", "lifecycle_stage", "start_time"),
    sa.Index("ix_runs_name", "name"),
    sa.Index("ix_runs_parent_run_id", "parent_run_id"),
)


def _run_fk() -> sa.ForeignKey:
    return sa.ForeignKey("runs.run_id", ondelete="CASCADE")


params = sa.Table(
    "params",
    metadata,
    sa.Column("run_id", sa.String(ID_LENGTH), _run_fk(), primary_key=True),
    sa.Column("key", sa.String(KEY_LENGTH), primary_key=True),
    sa.Column("value", sa.String(6000), nullable=False),
    sa.Index("ix_params_key_value", "key", "value"),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("run_id", sa.String(ID_LENGTH), _run_fk(), primary_key=True),
    sa.Column("key", sa.String(KEY_LENGTH), primary_key=True),
    sa.Column("value", sa.String(8000), nullable=False),
    sa.Index("ix_tags_key_value", "key", "value"),
)

# Full history: one row per logged point. NaN is stored as NULL (SQLite cannot store NaN);
# infinities are stored as they are. The index covers the history query, so reading a
# history never touches the table.
metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("id", _row_id, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(ID_LENGTH), _run_fk(), nullable=False),
    sa.Column("key", sa.String(KEY_LENGTH), nullable=False),
    sa.Column("value", sa.Float(precision=53), nullable=True),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Index("ix_metrics_history", "run_id", "key", "step", "timestamp", "id", "value"),
)

# Points logged many at a time (a log_batch call with many points of one key) are stored as
# one block row per key and call: the steps, timestamps and values packed as little-endian
# int64/int64/float64 columns (see metric_blocks.py). ``after_id`` is the highest ``metrics.id``
# when the block was written, which places its points among the single points in logging order.
metric_blocks = sa.Table(
    "metric_blocks",
    metadata,
    sa.Column("id", _row_id, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(ID_LENGTH), _run_fk(), nullable=False),
    sa.Column("key", sa.String(KEY_LENGTH), nullable=False),
    sa.Column("points", sa.Integer, nullable=False),
    sa.Column("step_data", sa.LargeBinary, nullable=False),
    sa.Column("timestamp_data", sa.LargeBinary, nullable=False),
    sa.Column("value_data", sa.LargeBinary, nullable=False),
    sa.Column("after_id", sa.BigInteger, nullable=False),
    sa.Index("ix_metric_blocks_history", "run_id", "key", "id"),
)

# The latest point per (run, key): highest step, then latest timestamp. Search filters and
# sorts on it, so searching never scans the history.
latest_metrics = sa.Table(
    "latest_metrics",
    metadata,
    sa.Column("run_id", sa.String(ID_LENGTH), _run_fk(), primary_key=True),
    sa.Column("key", sa.String(KEY_LENGTH), primary_key=True),
    sa.Column("value", sa.Float(precision=53), nullable=True),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Index("ix_latest_metrics_key_value", "key", "value"),
)


# ---- the model registry (migration 0002) -------------------------------------------------

MODEL_NAME_LENGTH = 256

registered_models = sa.Table(
    "registered_models",
    metadata,
    sa.Column("name", sa.String(MODEL_NAME_LENGTH), primary_key=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("creation_time", sa.BigInteger, nullable=False),
    sa.Column("last_update_time", sa.BigInteger, nullable=False),
    sa.Index("ix_registered_models_creation_time", "creation_time"),
    sa.Index("ix_registered_models_last_update_time", "last_update_time"),
)


def _model_fk() -> sa.ForeignKey:
    return sa.ForeignKey("registered_models.name", ondelete="CASCADE")


def _version_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["name", "version"], ["model_versions.name", "model_versions.version"], ondelete="CASCADE"
    )


registered_model_tags = sa.Table(
    "registered_model_tags",
    metadata,
    sa.Column("name", sa.String(MODEL_NAME_LENGTH), _model_fk(), primary_key=True),
    sa.Column("key", sa.String(KEY_LENGTH), primary_key=True),
    sa.Column("value", sa.String(8000), nullable=False),
    sa.Index("ix_registered_model_tags_key_value", "key", "value"),
)

# (name, version) is the primary key: two writers computing the same next version cannot both
# commit it. (name, current_stage, version) serves the latest version per stage.
model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("name", sa.String(MODEL_NAME_LENGTH), _model_fk(), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("source", sa.String(1024), nullable=False),
    sa.Column("storage_location", sa.String(1024), nullable=False),
    sa.Column("run_id", sa.String(ID_LENGTH), nullable=True),
    sa.Column("current_stage", sa.String(16), nullable=False),
    sa.Column("user_id", sa.String(256), nullable=False),
    sa.Column("creation_time", sa.BigInteger, nullable=False),
    sa.Column("last_update_time", sa.BigInteger, nullable=False),
    sa.Index("ix_model_versions_name_stage", "name", "current_stage", "version"),
    sa.Index("ix_model_versions_stage", "current_stage"),
    sa.Index("ix_model_versions_run_id", "run_id"),
    sa.Index("ix_model_versions_source", "source"),
    sa.Index("ix_model_versions_creation_time", "creation_time"),
)

model_version_tags = sa.Table(
    "model_version_tags",
    metadata,
    sa.Column("name", sa.String(MODEL_NAME_LENGTH), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("key", sa.String(KEY_LENGTH), primary_key=True),
    sa.Column("value", sa.String(8000), nullable=False),
    _version_fk(),
    sa.Index("ix_model_version_tags_key_value", "key", "value"),
)

model_aliases = sa.Table(
    "model_aliases",
    metadata,
    sa.Column("name", sa.String(MODEL_NAME_LENGTH), primary_key=True),
    sa.Column("alias", sa.String(MODEL_NAME_LENGTH), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    _version_fk(),
    sa.Index("ix_model_aliases_name_version", "name", "version"),
)

# The audit history outlives what it describes: no foreign keys, so deleting a model keeps it.
model_history = sa.Table(
    "model_history",
    metadata,
    sa.Column("id", _row_id, primary_key=True, autoincrement=True),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("name", sa.String(MODEL_NAME_LENGTH), nullable=False),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("field", sa.String(KEY_LENGTH), nullable=True),
    sa.Column("old_value", sa.Text, nullable=True),
    sa.Column("new_value", sa.Text, nullable=True),
    sa.Column("comment", sa.Text, nullable=True),
    sa.Index("ix_model_history_name", "name", "id"),
)

# Everything observable, written in the transaction of the change; readers poll by id.
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", _row_id, primary_key=True, autoincrement=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(1024), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Index("ix_events_type_id", "type", "id"),
)


# ---- datasets (migration 0003) -----------------------------------------------------------

# One row per distinct (name, digest): a dataset used by many runs is stored once.
datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("dataset_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("name", sa.String(MODEL_NAME_LENGTH), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("source", sa.String(1024), nullable=False),
    sa.Column("source_type", sa.String(32), nullable=False),
    sa.Column("schema", sa.Text, nullable=False),
    sa.Column("profile", sa.Text, nullable=False),
    sa.Column("num_rows", sa.BigInteger, nullable=True),
    sa.Column("num_columns", sa.Integer, nullable=True),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("name", "digest", name="uq_datasets_name_digest"),
    sa.Index("ix_datasets_name", "name"),
    sa.Index("ix_datasets_digest", "digest"),
)

# Which runs used which datasets, and how (training, validation, test).
run_inputs = sa.Table(
    "run_inputs",
    metadata,
    sa.Column("run_id", sa.String(ID_LENGTH), _run_fk(), primary_key=True),
    sa.Column(
        "dataset_id",
        sa.String(ID_LENGTH),
        sa.ForeignKey("datasets.dataset_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("context", sa.String(32), primary_key=True),
    sa.Index("ix_run_inputs_run_id", "run_id"),
    sa.Index("ix_run_inputs_dataset_id", "dataset_id"),
)


# ---- orchestration: flow runs, task runs, logs, artifacts, the task cache (migration 0005) -------

TASK_KEY_LENGTH = 500
CACHE_KEY_LENGTH = 512
URI_LENGTH = 1024

# parameters and tags are compact JSON; history is a JSON list [[state, time in ms], ...].
# Crash detection reads only the RUNNING rows (ix_flow_runs_state).
flow_runs = sa.Table(
    "flow_runs",
    metadata,
    sa.Column("flow_run_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("flow_name", sa.String(KEY_LENGTH), nullable=False),
    sa.Column("name", sa.String(KEY_LENGTH), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("start_time", sa.BigInteger, nullable=False),
    sa.Column("end_time", sa.BigInteger, nullable=True),
    sa.Column("flow_version", sa.String(256), nullable=True),
    sa.Column("entrypoint", sa.String(URI_LENGTH), nullable=False),
    sa.Column("parameters", sa.Text, nullable=False),
    sa.Column("parameters_ref", sa.String(URI_LENGTH), nullable=True),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("parent_flow_run_id", sa.String(ID_LENGTH), nullable=True),
    sa.Column("parent_task_run_id", sa.String(ID_LENGTH), nullable=True),
    sa.Column("tracking_run_id", sa.String(ID_LENGTH), nullable=True),
    sa.Column("host", sa.String(256), nullable=False),
    sa.Column("pid", sa.BigInteger, nullable=False),
    sa.Column("heartbeat_time", sa.BigInteger, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("history", sa.Text, nullable=False),
    sa.Index("ix_flow_runs_flow_name_start", "flow_name", "start_time"),
    sa.Index("ix_flow_runs_start_time", "start_time"),
    sa.Index("ix_flow_runs_state", "state"),
    sa.Index("ix_flow_runs_parent", "parent_flow_run_id"),
)


def _flow_run_fk() -> sa.ForeignKey:
    return sa.ForeignKey("flow_runs.flow_run_id", ondelete="CASCADE")


# The row id is the primary key (SQLite's rowid: no extra bytes) and gives the insertion order;
# task_run_id is unique, the target of write_records' upsert. One index row per task run besides it.
task_runs = sa.Table(
    "task_runs",
    metadata,
    sa.Column("id", _row_id, primary_key=True, autoincrement=True),
    sa.Column("task_run_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("flow_run_id", sa.String(ID_LENGTH), _flow_run_fk(), nullable=False),
    sa.Column("name", sa.String(KEY_LENGTH), nullable=False),
    sa.Column("task_key", sa.String(TASK_KEY_LENGTH), nullable=False),
    sa.Column("dynamic_key", sa.String(KEY_LENGTH), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("start_time", sa.BigInteger, nullable=True),
    sa.Column("end_time", sa.BigInteger, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("cache_key", sa.String(CACHE_KEY_LENGTH), nullable=True),
    sa.Column("result_ref", sa.String(URI_LENGTH), nullable=True),
    sa.Column("parameters", sa.Text, nullable=False),
    sa.Column("history", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("upstream", sa.Text, nullable=True),  # JSON list of task run ids (migration 0007)
    sa.UniqueConstraint("task_run_id", name="uq_task_runs_task_run_id"),
    sa.Index("ix_task_runs_flow_run_start", "flow_run_id", "start_time"),
)

flow_logs = sa.Table(
    "flow_logs",
    metadata,
    sa.Column("id", _row_id, primary_key=True, autoincrement=True),
    sa.Column("flow_run_id", sa.String(ID_LENGTH), _flow_run_fk(), nullable=False),
    sa.Column("task_run_id", sa.String(ID_LENGTH), nullable=True),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("logger", sa.String(256), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Index("ix_flow_logs_flow_run_timestamp", "flow_run_id", "timestamp"),
)

flow_artifacts = sa.Table(
    "flow_artifacts",
    metadata,
    sa.Column("artifact_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Column("key", sa.String(KEY_LENGTH), nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("flow_run_id", sa.String(ID_LENGTH), _flow_run_fk(), nullable=True),
    sa.Column("task_run_id", sa.String(ID_LENGTH), nullable=True),
    sa.Index("ix_flow_artifacts_flow_run", "flow_run_id", "created_time"),
    sa.Index("ix_flow_artifacts_key", "key", "created_time"),
)

# Cached task results outlive the flow runs that made them: no foreign key.
task_cache = sa.Table(
    "task_cache",
    metadata,
    sa.Column("cache_key", sa.String(CACHE_KEY_LENGTH), primary_key=True),
    sa.Column("result_ref", sa.String(URI_LENGTH), nullable=False),
    sa.Column("task_key", sa.String(TASK_KEY_LENGTH), nullable=False),
    sa.Column("flow_name", sa.String(KEY_LENGTH), nullable=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Column("expires_time", sa.BigInteger, nullable=True),
    sa.Index("ix_task_cache_flow_name", "flow_name"),
    sa.Index("ix_task_cache_task_key", "task_key"),
)


# ---- users, API tokens and permissions (migration 0006) ----------------------------------

USERNAME_LENGTH = 256
#: ``permissions.user_id`` of a resource's own default level (every user without a grant).
EVERYONE_ID = "*"

users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("username", sa.String(USERNAME_LENGTH), nullable=False),
    sa.Column("is_admin", sa.Boolean, nullable=False),
    sa.Column("creation_time", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("username", name="uq_users_username"),
)

# Tokens are looked up by the sha256 of the secret (unique); the secret itself is never stored.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("token_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column(
        "user_id",
        sa.String(ID_LENGTH),
        sa.ForeignKey("users.user_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("note", sa.String(256), nullable=False),
    sa.Column("creation_time", sa.BigInteger, nullable=False),
    sa.Column("expires_time", sa.BigInteger, nullable=True),
    sa.Column("revoked_time", sa.BigInteger, nullable=True),
    sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    sa.Index("ix_api_tokens_user_id", "user_id"),
)

# (kind, resource_id, user_id): a check reads the user's row and the resource's EVERYONE_ID row.
# No foreign keys: a resource's rows name it by id or name, and EVERYONE_ID is no user.
permissions = sa.Table(
    "permissions",
    metadata,
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("resource_id", sa.String(MODEL_NAME_LENGTH), primary_key=True),
    sa.Column("user_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Index("ix_permissions_user_id", "user_id"),
)

# Server-wide settings of authentication, one row each (the default level for new resources).
auth_settings = sa.Table(
    "auth_settings",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)
