"""Evaluating patterns: metrics, datasets, threshold sweeps, cost-quality reports."""
