"""Metric analysis: query templates, presets, threshold verdicts, and folding measurements into a summary.

Pure: no network and no cluster. The Prometheus adapter (`modelrollout.adapters.prometheus`) runs the
queries that `plan.due_metrics` returns; `fold.fold` turns the measurements into status and an
`AnalysisSummary` for the core.
"""
