"""The stages of a campaign run. Each is a module with ``run(ctx: StageContext) -> None`` that
reads the previous stage's saved output from the database and saves its own before returning.

A stage is re-runnable: it first removes what an earlier (partial) run of the same stage left —
except collect, which resumes from its cursors. It reports with ``ctx.step(fraction, message)``
(0.0–1.0 within the stage), which also stops it with ``JobCancelled`` once a cancel was asked for.
A stage that cannot go on raises ``StageError`` with a message for the operator; ``resumable``
says the same run can be resumed later (e.g. the Wordstat quota ran out)."""

from __future__ import annotations

from dataclasses import dataclass

from crosspost.jobs import job_step

from ..models import Campaign


class StageError(Exception):
    def __init__(self, message: str, *, resumable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.resumable = resumable


@dataclass
class StageContext:
    campaign: Campaign
    job_id: int
    stage: str
    start: int  # the job's progress when this stage starts (0–100)
    span: int  # how many progress points this stage covers

    def step(self, fraction: float, message: str | None = None) -> None:
        """Report ``fraction`` (0–1) of this stage done; raises JobCancelled when cancelled."""
        fraction = max(0.0, min(1.0, fraction))
        job_step(self.job_id, progress=self.start + int(self.span * fraction), stage=self.stage, message=message)
