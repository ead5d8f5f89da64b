"""Drift monitoring: a prediction log against a reference dataset version."""
