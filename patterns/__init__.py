"""Ready-made collaboration graphs built on collab's public API: one module per pattern."""
