"""Item pipelines, one concern each; see pipelines/README in docs/pipelines.md."""
