"""tensorflow integration (imports tensorflow lazily)."""
