"""genoseq.train."""
