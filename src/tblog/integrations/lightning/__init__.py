"""lightning integration (imports lightning lazily)."""
