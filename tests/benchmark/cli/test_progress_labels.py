"""The sweep's progress bar names what it does: encoder and dataset, then the task, then the step."""

from __future__ import annotations

from benchmark.cli import output


class RecordedBar:
    """A progress bar that keeps every description it is given."""

    def __init__(self) -> None:
        self.descriptions: list[str] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return False

    def add_task(self, description: str, total=None) -> int:
        self.descriptions.append(description)
        return 0

    def update(self, task: int, description: str | None = None, **fields) -> None:
        self.descriptions.append(description)

    def advance(self, task: int, n: int) -> None:
        pass


def test_a_step_before_any_task_reads_without_an_empty_part(monkeypatch):
    bar = RecordedBar()
    monkeypatch.setattr(output, "progress_bar", lambda: bar)
    with output.ConsoleReporter().progress("effnet-lite0 on my_photos") as progress:
        progress.on_step("train from the cache", 35)  # mitigate prepares its embeddings before any task
        progress.on_task("mitigate jpeg")
        progress.on_step("measuring", 6)
    assert bar.descriptions == [
        "effnet-lite0 on my_photos",
        "effnet-lite0 on my_photos: train from the cache",
        "effnet-lite0 on my_photos: mitigate jpeg",
        "effnet-lite0 on my_photos: mitigate jpeg: measuring",
    ]
