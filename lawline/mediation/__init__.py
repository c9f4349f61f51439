"""Mediation cases and their rooms."""
