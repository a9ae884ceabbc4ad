"""genoseq.ops."""
