"""Ingest: read recordings, decode messages, synchronise sensors."""
