"""The assessment-scoring activity: documented rules (cases/scoring.py) applied outside
the workflow, so a new rules version never changes how running cases replay."""

from __future__ import annotations

from temporalio import activity

from cases.commands import AssessmentInput
from cases.scoring import Score, score


@activity.defn(name="score_assessment")
async def score_assessment(assessment: AssessmentInput) -> Score:
    return score(assessment.domains)
