"""Orchestration: ``@flow`` and ``@task`` with Prefect's interface, recorded in the Store."""
