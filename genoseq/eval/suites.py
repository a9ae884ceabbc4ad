"""Benchmark suites: which tasks, where their data lives, the official metric, the shared recipe.

A suite's tasks are folders under its data directory (task id = the folder's path relative to it, e.g.
``prom/prom_core_tata``), read with :func:`genoseq.read_task`. Every task of a suite is fine-tuned with
the suite's one recipe (``recipes/eval/<suite>.yaml``) unless the suite names a per-task override.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from genoseq.errors import ConfigError, InputError

_EMP = ("H3", "H3K14ac", "H3K36me3", "H3K4me1", "H3K4me2", "H3K4me3", "H3K79me3", "H3K9ac", "H4", "H4ac")
_PROM = ("prom_300_all", "prom_300_notata", "prom_300_tata", "prom_core_all", "prom_core_notata", "prom_core_tata")
_NT_MARKS = ("H2AFZ", "H3K27ac", "H3K27me3", "H3K36me3", "H3K4me1", "H3K4me2", "H3K4me3", "H3K9ac", "H3K9me3",
             "H4K20me1")
_SPLIT_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".fna", ".fna.gz", ".fa", ".fa.gz", ".fasta",
                   ".fasta.gz")


@dataclass(frozen=True)
class Suite:
    """A benchmark suite.

    Attributes:
        name: CLI name (``gue``, ``genomic_benchmarks``, ``nt``, ``local``).
        metric: the official metric (a results.csv column: ``mcc`` or ``accuracy``).
        tasks: task ids in the published order (empty for ``local``: found in the data folder).
        manifest: the data manifest that fetches the suite (``genoseq data fetch NAME``).
        default_data_dir: where ``genoseq data fetch`` puts it (after unpacking).
        has_dev: whether tasks ship a dev split (otherwise 10% of train is held out, seeded).
        overrides: per-task recipe overrides (``--set`` strings), e.g. a longer ``max_len``.
        source: where the task list and the metric come from.
    """

    name: str
    metric: str
    tasks: tuple[str, ...]
    manifest: str | None
    default_data_dir: str | None
    has_dev: bool
    overrides: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = ""
    fetch_dir: str | None = None  # the --dir of `genoseq data fetch` when unpacking adds a level (GUE.zip)

    @property
    def recipe(self) -> str:
        """The suite's shared fine-tuning recipe, inside the installed ``genoseq.recipes`` package."""
        return f"eval/{self.name}.yaml"


SUITES: dict[str, Suite] = {
    "gue": Suite(
        name="gue", metric="mcc",
        tasks=tuple(f"EMP/{t}" for t in _EMP) + tuple(f"prom/{t}" for t in _PROM)
        + tuple(f"mouse/{i}" for i in range(5)) + tuple(f"tf/{i}" for i in range(5))
        + ("splice/reconstructed", "virus/covid"),
        manifest="gue", default_data_dir="~/genoseq-data/gue/GUE", has_dev=True,
        overrides={"EMP/" + t: ("data.max_len=512",) for t in _EMP} | {"virus/covid": ("data.max_len=1024",)},
        source="Zhou et al., ICLR 2024 (DNABERT-2): 28 GUE tasks, Matthews correlation on test",
        fetch_dir="~/genoseq-data/gue",
    ),
    "genomic_benchmarks": Suite(
        name="genomic_benchmarks", metric="accuracy",
        tasks=("dummy_mouse_enhancers_ensembl", "demo_coding_vs_intergenomic_seqs", "demo_human_or_worm",
               "human_enhancers_cohn", "human_enhancers_ensembl", "human_ensembl_regulatory",
               "human_nontata_promoters", "human_ocr_ensembl"),
        manifest="genomic_benchmarks", default_data_dir="~/genoseq-data/genomic_benchmarks", has_dev=False,
        overrides={"dummy_mouse_enhancers_ensembl": ("data.max_len=1024",),
                   "human_enhancers_cohn": ("data.max_len=512",),
                   "human_ensembl_regulatory": ("data.max_len=512",),
                   "human_ocr_ensembl": ("data.max_len=512",)},
        source="Gresova et al., BMC Genomic Data 2023: top-1 accuracy on test (as HyenaDNA and Caduceus report)",
    ),
    "nt": Suite(
        name="nt", metric="mcc",
        tasks=_NT_MARKS + ("enhancers", "enhancers_types", "promoter_all", "promoter_no_tata", "promoter_tata",
                           "splice_sites_acceptors", "splice_sites_all", "splice_sites_donors"),
        manifest="nucleotide_transformer_revised", default_data_dir="~/genoseq-data/nucleotide_transformer_revised",
        has_dev=False,
        source="Dalla-Torre et al., Nature Methods 2024: 18 revised tasks, MCC on test",
    ),
    "local": Suite(name="local", metric="mcc", tasks=(), manifest=None, default_data_dir=None, has_dev=True,
                   source="any folder of train/dev/test files"),
}


def get_suite(name: str) -> Suite:
    """The suite called ``name``; an unknown name raises ConfigError listing the suites."""
    try:
        return SUITES[name]
    except KeyError:
        raise ConfigError(f"unknown suite {name!r}; choose one of {', '.join(SUITES)}") from None


def _is_task_folder(folder: Path) -> bool:
    """A split file ``train.csv`` / ``train.fna`` ... or a GenomicBenchmarks ``train/`` folder of class files."""
    return any((folder / f"train{s}").is_file() for s in _SPLIT_SUFFIXES) or (folder / "train").is_dir()


def find_local_tasks(data_dir: Path) -> list[str]:
    """Task ids under a ``local`` data folder: the folder itself when it holds ``train.*`` (id ``.``),
    else every sub-folder (any depth) that does, sorted."""
    if not data_dir.is_dir():
        raise InputError(f"{data_dir}: not a folder (expected a task folder with train/dev/test files, or a "
                         "folder of such task folders)")
    if _is_task_folder(data_dir):
        return ["."]
    found = [str(p.parent.relative_to(data_dir)) for p in data_dir.rglob("train*")
             if (p.name == "train" or p.name.endswith(_SPLIT_SUFFIXES)) and _is_task_folder(p.parent)]
    if not found:
        raise InputError(f"{data_dir}: no task folders found (expected train.csv / train.tsv / train.fna files, "
                         "optionally gzipped, beside dev and test files, or train/ and test/ folders of class files)")
    return sorted(set(found))


def resolve_tasks(suite: Suite, data_dir: Path, requested: list[str] | None) -> list[str]:
    """The task ids to run, each checked to exist under ``data_dir``.

    ``requested``: None or ``["all"]`` = every task of the suite; ``["available"]`` = those present;
    else the named ids (a short name such as ``prom_core_tata`` matches ``prom/prom_core_tata``).

    Raises:
        InputError: an unknown task name, or tasks missing from ``data_dir`` (the message gives the
            ``genoseq data fetch`` command and the ``--tasks available`` alternative).
    """
    known = list(suite.tasks) if suite.name != "local" else find_local_tasks(data_dir)
    if not requested or requested == ["all"]:
        wanted = known
    elif requested == ["available"]:
        wanted = [t for t in known if _is_task_folder(data_dir / t)]
        if not wanted:
            raise InputError(_missing_message(suite, data_dir, known))
    else:
        wanted = []
        for name in requested:
            hits = [t for t in known if t == name or t.split("/")[-1] == name or t.replace("/", "_") == name]
            if len(hits) != 1:
                what = "ambiguous" if hits else "unknown"
                raise InputError(f"{what} task {name!r} for suite {suite.name!r}; its tasks are: {', '.join(known)}")
            wanted.append(hits[0])
    missing = [t for t in wanted if not _is_task_folder(data_dir / t)]
    if missing:
        raise InputError(_missing_message(suite, data_dir, missing, n_present=len(wanted) - len(missing)))
    return wanted


def _missing_message(suite: Suite, data_dir: Path, missing: list[str], n_present: int = 0) -> str:
    shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
    text = f"{len(missing)} task(s) of suite {suite.name!r} not found under {data_dir}: {shown}."
    if suite.manifest:
        target = suite.default_data_dir or f"~/genoseq-data/{suite.manifest}"
        text += (f" Download the suite with `genoseq data fetch {suite.manifest} --dir {suite.fetch_dir or target}` "
                 f"(unpack archives there) and pass --data {target}")
    if n_present:
        text += f"; or run the {n_present} task(s) present with --tasks available"
    return text
