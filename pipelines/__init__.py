"""The processing steps an article goes through, one concern each, in the order
``crawler/settings.py`` gives them: ``normalize`` (canonical URL, aliases), ``extract/`` (text
and metadata), ``dedup/`` (fingerprint and cluster), ``store`` (one transaction). See
docs/architecture.md."""
