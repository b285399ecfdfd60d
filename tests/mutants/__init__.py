"""Deliberately wrong and misbehaving implementations that prove the oracle can fail."""
