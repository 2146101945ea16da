"""Nightly training: raw logs -> canonical events -> models -> artifact bundle."""
