"""Launching the backfill on EMR: pure request builders, and the edges that send and watch."""
