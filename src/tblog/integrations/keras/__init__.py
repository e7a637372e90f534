"""keras integration (imports keras lazily)."""
