"""Small real genomes and labelled tasks shipped inside the package (offline demo and tests).

Every file's source, licence, citation and checksums are in ``genoseq/bundled/DATA.md`` and in the
``bundled`` data manifest (``genoseq data info bundled``).

Example::

    import genoseq.bundled
    genoseq.bundled.names()                      # ['ecoli_k12', 'gue_mouse_2', ...]
    fasta = genoseq.bundled.path("ecoli_k12")    # .../genoseq/bundled/genomes/GCF_...fna.gz
    task_dir = genoseq.bundled.path("gue_prom_core_tata")   # folder with train/dev/test.csv.gz
    cds_bed = genoseq.bundled.path("ecoli_k12_cds")         # BED of CDS intervals on ecoli_k12 (token labels)
"""

from __future__ import annotations

import atexit
import contextlib
import pathlib
from dataclasses import dataclass
from importlib import resources

from genoseq.errors import GenoseqError

__all__ = ["BundledItem", "describe", "names", "path"]


@dataclass(frozen=True)
class BundledItem:
    """One bundled data set: a genome FASTA file, a task folder of split CSVs or a BED of labelled intervals."""

    name: str
    kind: str  # "genome" (FASTA), "task" (folder of train/dev/test .csv.gz), "labels" (BED over a bundled genome)
    relpath: str  # relative to the genoseq.bundled package
    description: str


_ITEMS: dict[str, BundledItem] = {
    item.name: item
    for item in (
        BundledItem(
            "ecoli_k12",
            "genome",
            "genomes/GCF_000005845.2_ASM584v2_genomic.fna.gz",
            "E. coli K-12 MG1655 complete genome, RefSeq NC_000913.3, 4,641,652 bp (gzip FASTA)",
        ),
        BundledItem(
            "phage_lambda",
            "genome",
            "genomes/NC_001416.1_lambda.fa",
            "Enterobacteria phage lambda, RefSeq NC_001416.1, 48,502 bp",
        ),
        BundledItem(
            "human_chrM",
            "genome",
            "genomes/MT-human.fa",
            "Human mitochondrial genome (rCRS), NC_012920.1, 16,569 bp with one N at position 3107",
        ),
        BundledItem(
            "yeast_chrI",
            "genome",
            "genomes/yeast_chr01.fasta",
            "S. cerevisiae S288C chromosome I (record name 'chr01'), 230,218 bp",
        ),
        BundledItem(
            "ecoli_k12_cds",
            "labels",
            "tasks/ecoli_k12_cds.bed.gz",
            "CDS intervals of E. coli K-12 MG1655 (NCBI annotation of NC_000913.3, pseudo CDS left out), "
            "BED6 class 'cds', 4301 rows covering 3,980,176 of 4,641,652 bp: per-base labels over ecoli_k12",
        ),
        BundledItem(
            "gue_prom_core_tata",
            "task",
            "tasks/gue_prom_core_tata",
            "GUE prom_core_tata: 70 bp human core promoters with TATA box vs negatives; "
            "train/dev/test 4904/613/613",
        ),
        BundledItem(
            "gue_mouse_2",
            "task",
            "tasks/gue_mouse_2",
            "GUE mouse/2: 101 bp mouse TF binding sites vs negatives; train/dev/test 2620/328/328",
        ),
    )
}

_extracted = contextlib.ExitStack()
atexit.register(_extracted.close)


def names() -> list[str]:
    """Sorted names of the bundled data sets."""
    return sorted(_ITEMS)


def describe(name: str) -> BundledItem:
    """The :class:`BundledItem` (kind, relative path, description) of a bundled data set."""
    try:
        return _ITEMS[name]
    except KeyError:
        raise GenoseqError(f"unknown bundled data set {name!r}; valid names: {', '.join(names())}") from None


def path(name: str) -> pathlib.Path:
    """Filesystem path of a bundled genome FASTA file, task folder or labels BED.

    Works from a source checkout and from an installed (non-editable) package; if the
    package lives in a zip archive the file is extracted to a temporary location that
    is removed at interpreter exit.

    Raises:
        GenoseqError: unknown ``name`` (the message lists the valid names), or the file is
            missing from the installation.
    """
    item = describe(name)
    resource = resources.files(__name__).joinpath(item.relpath)
    if isinstance(resource, pathlib.Path):
        found = resource
    else:  # zipped package: materialise it once
        found = pathlib.Path(_extracted.enter_context(resources.as_file(resource)))
    if not found.exists():
        raise GenoseqError(f"bundled data set {name!r} is missing from the installation (looked for {found})")
    return found
