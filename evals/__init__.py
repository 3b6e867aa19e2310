"""Evaluation of answers: cases, graders, a runner through the real Assistant, and docs/evals.md."""
