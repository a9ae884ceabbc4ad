"""genoseq.infer."""
