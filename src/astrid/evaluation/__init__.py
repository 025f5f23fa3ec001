"""Scoring of candidates against known truth (injections, simulations)."""
