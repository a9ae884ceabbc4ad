"""genoseq.data."""
