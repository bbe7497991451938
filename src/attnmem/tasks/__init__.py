"""Data for the book's tasks: every generator is deterministic under a seed; loaders read public formats."""
