"""torch integration (imports torch lazily)."""
