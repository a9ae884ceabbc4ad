"""genoseq.model."""
