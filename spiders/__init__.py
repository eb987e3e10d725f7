"""Spiders: one generic outlet spider, configured per outlet by the registry."""
