"""Triton GPU kernels for genoseq, installed as `genoseq_kernels`; imported only when used."""
