"""Fuzzing Piecemeal's parsers: targets, seed inputs, strategies and the long-run command (fuzz.run)."""
