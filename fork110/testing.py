"""Placeholder; replaced by the leak plugin."""
