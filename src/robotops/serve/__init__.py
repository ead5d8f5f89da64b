"""Serving bundles over the Open Inference Protocol, and the prediction log."""
