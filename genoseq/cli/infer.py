"""`genoseq embed | score-variants | ism | generate`: thin shells over genoseq.infer."""

from __future__ import annotations

from pathlib import Path

import typer

from genoseq.cli._common import MODEL_HELP, exit_on_error, load_model_dir, progress_bar
from genoseq.errors import GenoseqError


def register(app: typer.Typer) -> None:
    @app.command()
    def embed(
        model: Path = typer.Option(..., "--model", help=MODEL_HELP),
        out: Path = typer.Option(..., "--out", help="Output .npz (ids, embeddings, lengths) or .parquet."),
        fasta: Path = typer.Option(None, "--fasta", help="FASTA: one row per record, or per --bed interval."),
        bed: Path = typer.Option(None, "--bed", help="BED intervals of --fasta to embed."),
        sequences: Path = typer.Option(None, "--sequences", help="CSV/TSV with a 'sequence' column (task file)."),
        layer: int = typer.Option(-1, help="Backbone layer (0 = token embeddings, -1 = final)."),
        pooling: str = typer.Option("mean", help="mean, max, last, or none (per-token, .npz only)."),
        rc_average: bool = typer.Option(False, "--rc-average", help="Average with the reverse complement."),
        batch_size: int = typer.Option(16, help="Sequences per forward pass."),
        chunk_size: int = typer.Option(None, help="Longer sequences use chunked prefill (default 16384); Hyena models whose filters reach far past a "
                                       "chunk (max_len ~ input length) go layer by layer over the whole sequence instead."),
        device: str = typer.Option("cpu", help="torch device."),
    ) -> None:
        """Embed sequences (FASTA records, BED regions or a task CSV) into OUT with their row ids."""
        from genoseq.infer.embed import embed as embed_fn

        with exit_on_error():
            if (fasta is None) == (sequences is None):
                raise GenoseqError("give exactly one of --fasta or --sequences")
            if bed is not None and fasta is None:
                raise GenoseqError("--bed needs --fasta")
            if not out.name.lower().endswith((".npz", ".parquet")):
                raise GenoseqError(f"--out {out} must end in .npz or .parquet")
            if out.name.lower().endswith(".parquet"):
                from genoseq.infer.table import import_pyarrow

                import_pyarrow("parquet output")
            m = load_model_dir(model, device)
            with progress_bar("embedding", None) as update:
                result = embed_fn(m, fasta or sequences, layer=layer, pooling=None if pooling == "none" else pooling,
                                  rc_average=rc_average, batch_size=batch_size, regions=bed, chunk_size=chunk_size,
                                  progress=update)
            result.save(out)
        typer.echo(f"wrote {len(result)} embeddings of shape {tuple(result.array.shape[1:])} to {out}")

    @app.command("score-variants")
    def score_variants(
        model: Path = typer.Option(..., "--model", help=MODEL_HELP),
        genome: Path = typer.Option(..., "--genome", help="Reference FASTA."),
        vcf: Path = typer.Option(..., "--vcf", help="Variants: VCF/BCF (.vcf, .vcf.gz, .bcf) or a chrom/pos/ref/alt table."),
        out: Path = typer.Option(..., "--out", help="Output .tsv, .vcf/.vcf.gz (INFO fields added) or .parquet."),
        method: str = typer.Option("llr", help="llr, masked_llr, embedding or head."),
        window: int = typer.Option(None, help="Window length centred on each variant (default: model max_len, <= 8192)."),
        rc_average: bool = typer.Option(True, "--rc-average/--forward-only", help="Average both strands."),
        layer: int = typer.Option(-1, help="Layer for --method embedding."),
        pool_window: int = typer.Option(None, help="Bases around the variant pooled for --method embedding/head."),
        batch_size: int = typer.Option(8, help="Sequences per forward pass."),
        device: str = typer.Option("cpu", help="torch device."),
    ) -> None:
        """Score every variant of a VCF; skipped ones keep their row / record with a reason."""
        from genoseq.data.genome import Genome
        from genoseq.data.variants import read_variants
        from genoseq.infer.variants import METHOD_COLUMNS
        from genoseq.infer.variants import score_variants as score_fn

        with exit_on_error():
            name = out.name.lower()
            is_vcf = name.endswith((".vcf", ".vcf.gz", ".bcf"))
            if not (is_vcf or name.endswith((".tsv", ".parquet"))):
                raise GenoseqError(f"--out {out} must end in .tsv, .vcf, .vcf.gz, .bcf or .parquet")
            if is_vcf and not vcf.name.lower().endswith((".vcf", ".vcf.gz", ".vcf.bgz", ".bcf")):
                raise GenoseqError(f"VCF output needs VCF/BCF input; {vcf} is a table: write .tsv or .parquet")
            variants = read_variants(vcf)
            g = Genome(genome, aliases=True)
            m = load_model_dir(model, device)
            n_units = len(variants) * (2 if rc_average else 1)
            with progress_bar("scoring", n_units) as update:
                table = score_fn(m, g, variants, method=method, window=window, rc_average=rc_average, layer=layer,
                                 pool_window=pool_window, batch_size=batch_size, progress=update)
            if is_vcf:
                from genoseq.infer.vcf_writer import write_scored_vcf

                base = set(METHOD_COLUMNS[method]) - {"window_start", "window_end"}
                cols = [c for c in table.columns if c in base or c.startswith("head_")]
                write_scored_vcf(vcf, out, table, cols, method)
            elif name.endswith(".parquet"):
                table.to_parquet(out)
            else:
                table.to_tsv(out)
        counts: dict[str, int] = {}
        for s in table["status"]:
            counts[s] = counts.get(s, 0) + 1
        summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        typer.echo(f"scored {counts.get('ok', 0)} of {len(table)} variants ({summary}); wrote {out}")

    @app.command()
    def ism(
        model: Path = typer.Option(..., "--model", help=MODEL_HELP),
        genome: Path = typer.Option(..., "--genome", help="Reference FASTA."),
        region: str = typer.Option(..., "--region", help="chrom:start-end, 0-based half-open (like BED)."),
        out: Path = typer.Option(..., "--out", help="Output table .tsv (or .parquet)."),
        track: Path = typer.Option(None, "--track", help="Per-position mean score: .bedgraph or .bw (pyBigWig)."),
        heatmap: Path = typer.Option(None, "--heatmap", help="Heatmap PNG (bases x positions)."),
        method: str = typer.Option("llr", help="llr, masked_llr, embedding or head."),
        window: int = typer.Option(None, help="Window length centred on each variant."),
        deletions: bool = typer.Option(False, "--deletions", help="Also score every 1-bp deletion."),
        batch_size: int = typer.Option(8, help="Sequences per forward pass."),
        device: str = typer.Option("cpu", help="torch device."),
    ) -> None:
        """In-silico mutagenesis: all substitutions (and 1-bp deletions) in a region."""
        from genoseq.data.genome import Genome
        from genoseq.infer import ism as ism_mod

        with exit_on_error():
            m = load_model_dir(model, device)
            table = ism_mod.ism(m, Genome(genome, aliases=True), region, method=method, window=window,
                                deletions=deletions, batch_size=batch_size)
            table.to_parquet(out) if out.name.lower().endswith(".parquet") else table.to_tsv(out)
            if track is not None:
                ism_mod.write_track(table, track)
            if heatmap is not None:
                ism_mod.plot_heatmap(table, heatmap)
        typer.echo(f"scored {len(table)} mutations in {region}; wrote {out}")

    @app.command()
    def generate(
        model: Path = typer.Option(..., "--model", help=MODEL_HELP),
        out: Path = typer.Option(..., "--out", help="Output FASTA."),
        length: int = typer.Option(1000, help="Bases to generate per sample."),
        num_samples: int = typer.Option(1, "--num-samples", "-n", help="Number of sequences."),
        prompt: str = typer.Option(None, help="DNA prompt (not included in the output)."),
        temperature: float = typer.Option(1.0, help="Softmax temperature; 0 = greedy."),
        top_k: int = typer.Option(None, help="Sample among the k most likely bases."),
        top_p: float = typer.Option(None, help="Nucleus sampling threshold."),
        seed: int = typer.Option(None, help="Random seed."),
        device: str = typer.Option("cpu", help="torch device."),
    ) -> None:
        """Sample sequences from a causal model (prompt prefilled once, then one step per base)."""
        from genoseq.infer.generate import generate as gen_fn
        from genoseq.infer.generate import write_fasta

        with exit_on_error():
            m = load_model_dir(model, device)
            seqs = gen_fn(m, length, prompt=prompt, num_samples=num_samples, temperature=temperature, top_k=top_k,
                          top_p=top_p, seed=seed)
            write_fasta(out, [f"genoseq_sample_{i + 1} length={length} temperature={temperature}"
                              for i in range(len(seqs))], seqs)
        typer.echo(f"wrote {len(seqs)} sequences to {out}")
