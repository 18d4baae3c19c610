"""Asynchronous logging's queue against a recording sender: batching, order, errors, flush."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pytest

from loopml import Conflict, InvalidInput, Metric, NotFound, Param, RunTag
from loopml.errors import LoopmlError
from loopml.store.http.async_logging import AsyncLogging, batches


@dataclass
class Sender:
    """Records every batch; ``refuse`` maps (run_id, param key) to the error that batch gets."""

    sent: list[tuple[str, list[Metric], list[Param], list[RunTag]]] = field(default_factory=list)
    refuse: dict[tuple[str, str], LoopmlError] = field(default_factory=dict)
    refuse_run: dict[str, LoopmlError] = field(default_factory=dict)
    gate: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    def __call__(
        self, run_id: str, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
    ) -> None:
        self.gate.wait(5)
        if run_id in self.refuse_run:
            raise self.refuse_run[run_id]
        for p in params:
            if (run_id, p.key) in self.refuse:
                raise self.refuse[(run_id, p.key)]
        self.sent.append((run_id, list(metrics), list(params), list(tags)))

    def metrics(self, run_id: str) -> list[Metric]:
        return [m for r, ms, _, _ in self.sent if r == run_id for m in ms]


@pytest.fixture
def sender() -> Sender:
    return Sender()


@pytest.fixture
def queue(sender: Sender) -> Iterator[AsyncLogging]:
    q = AsyncLogging(sender, interval_s=0.02, max_values=50)
    yield q
    q.close()


def test_values_go_in_batches_in_logging_order(queue: AsyncLogging, sender: Sender) -> None:
    for step in range(120):
        queue.log_metric("r1", Metric("loss", step * 0.5, 1000 + step, step))
        queue.log_metric("r2", Metric("acc", step / 100, 1000 + step, step))
    queue.set_tag("r1", RunTag("stage", "a"))
    queue.log_param("r1", Param("lr", 0.1))  # not a str: sent as the server stores it
    queue.set_tag("r1", RunTag("stage", "b"))
    queue.flush()
    assert [m.step for m in sender.metrics("r1")] == list(range(120))
    assert [m.value for m in sender.metrics("r2")] == [s / 100 for s in range(120)]
    assert all(len(ms) + len(ps) + len(ts) <= 50 for _, ms, ps, ts in sender.sent)
    assert len(sender.sent) < 120  # batched, not one request per value
    last_tags = [t for r, _, _, ts in sender.sent if r == "r1" for t in ts]
    assert last_tags[-1] == RunTag("stage", "b")
    assert [p for r, _, ps, _ in sender.sent if r == "r1" for p in ps] == [Param("lr", "0.1")]


def test_a_param_logged_twice_with_different_values_is_split_across_batches() -> None:
    queued = [("r", Param("lr", "0.1")), ("r", Metric("m", 1.0, 1, 0)), ("r", Param("lr", "0.2"))]
    split = batches(queued)
    assert [list(b.params.values()) for b in split] == [[Param("lr", "0.1")], [Param("lr", "0.2")]]
    assert split[0].metrics == [Metric("m", 1.0, 1, 0)]
    same = batches([("r", Param("lr", "0.1")), ("r", Param("lr", "0.1"))])
    assert len(same) == 1


def test_bad_keys_and_values_are_refused_at_the_call(queue: AsyncLogging, sender: Sender) -> None:
    with pytest.raises(InvalidInput, match="forbidden character"):
        queue.log_metric("r", Metric("bad key!", 1.0, 1, 0))
    with pytest.raises(InvalidInput, match="non-numeric value"):
        queue.log_metric("r", Metric("m", "high", 1, 0))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="must fit a 64-bit integer"):
        queue.log_metric("r", Metric("m", 1.0, 1, 2**64))
    with pytest.raises(InvalidInput, match="characters long"):
        queue.log_param("r", Param("p", "x" * 10_000))
    queue.flush()
    assert sender.sent == []


def test_a_background_error_is_raised_at_the_next_call_with_what_was_lost(
    queue: AsyncLogging, sender: Sender
) -> None:
    message = "param 'lr' of run r was logged as '0.1'; it cannot be changed to '0.2'"
    sender.refuse[("r", "lr")] = Conflict(message, key="lr")
    queue.log_metric("r", Metric("m", 1.0, 1, 0))
    queue.log_param("r", Param("lr", "0.2"))
    deadline = time.monotonic() + 10
    with pytest.raises(Conflict) as caught:  # noqa: PT012
        while time.monotonic() < deadline:
            queue.log_metric("r", Metric("m", 2.0, 2, 1))
            time.sleep(0.01)
    assert message in str(caught.value)
    assert "1 param of run r were not stored" in str(caught.value)
    assert caught.value.details["key"] == "lr"
    queue.flush()  # the error was raised once; the metrics of the refused batch were sent again
    assert {m.value for m in sender.metrics("r")} == {1.0, 2.0}


def test_flush_raises_the_errors_of_every_failed_send(queue: AsyncLogging, sender: Sender) -> None:
    sender.refuse_run["gone"] = NotFound("no run with id 'gone'", run_id="gone")
    sender.refuse_run["other"] = NotFound("no run with id 'other'", run_id="other")
    queue.log_metric("gone", Metric("m", 1.0, 1, 0))
    queue.log_metric("other", Metric("m", 1.0, 1, 0))
    with pytest.raises(NotFound) as caught:
        queue.flush()
    text = str(caught.value)
    assert "no run with id 'gone'" in text and "1 more failed asynchronous send" in text
    assert "1 metric point of run gone were not stored" in text
    queue.flush()  # raised once


def test_flush_waits_for_a_send_in_flight(queue: AsyncLogging, sender: Sender) -> None:
    sender.gate.clear()
    queue.log_metric("r", Metric("m", 1.0, 1, 0))
    threading.Timer(0.2, sender.gate.set).start()
    started = time.monotonic()
    queue.flush()
    assert time.monotonic() - started >= 0.15
    assert len(sender.metrics("r")) == 1


def test_before_makes_the_call_even_when_the_queue_failed(queue: AsyncLogging, sender: Sender) -> None:
    sender.refuse_run["r"] = Conflict("run 'r' is FINISHED", run_id="r")
    queue.log_metric("r", Metric("m", 1.0, 1, 0))
    made: list[str] = []
    with pytest.raises(Conflict, match="is FINISHED"):
        queue.before(lambda: made.append("terminate"))
    assert made == ["terminate"]


def test_a_closed_queue_takes_values_again(queue: AsyncLogging, sender: Sender) -> None:
    queue.log_metric("r", Metric("m", 1.0, 1, 0))
    queue.close()
    queue.log_metric("r", Metric("m", 2.0, 2, 1))
    queue.flush()
    assert [m.value for m in sender.metrics("r")] == [1.0, 2.0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("1", True), ("YES", True), ("false", False), ("0", False), ("no", False)],
)
def test_the_setting_reads_booleans(monkeypatch: pytest.MonkeyPatch, text: str, expected: bool) -> None:
    from loopml.settings import load_settings

    monkeypatch.setenv("LOOPML_ASYNC_LOGGING", text)
    assert load_settings().async_logging is expected


def test_a_setting_that_is_not_a_boolean_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from loopml.settings import load_settings

    monkeypatch.setenv("LOOPML_ASYNC_LOGGING", "sometimes")
    with pytest.raises(InvalidInput, match="LOOPML_ASYNC_LOGGING = 'sometimes' is invalid"):
        load_settings()


def test_the_http_store_queues_only_with_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from loopml.store.http import HttpStore

    monkeypatch.setenv("LOOPML_ASYNC_LOGGING", "true")
    assert HttpStore("http://127.0.0.1:9")._queue is not None
    assert HttpStore("http://127.0.0.1:9", async_logging=False)._queue is None
    monkeypatch.delenv("LOOPML_ASYNC_LOGGING")
    assert HttpStore("http://127.0.0.1:9")._queue is None
