"""``genoseq validate``: check a recipe beyond its schema without running it."""

from __future__ import annotations

from genoseq.errors import ConfigError, GenoseqError
from genoseq.train.recipe import Recipe


def check_recipe(recipe: Recipe) -> list[str]:
    """Check the model config, the manifest name and the data paths.

    Raises ConfigError for a bad model preset/config or an unknown manifest. Missing data files are
    not errors here (the data may be fetched later); they come back as notes with the fetch command.
    """
    from genoseq.model.config import ModelConfig
    from genoseq.model.presets import get_preset

    notes: list[str] = []
    m = recipe.model
    if m.init_from is None:
        try:
            cfg = get_preset(m.preset) if m.preset else ModelConfig()
            if m.config:
                cfg = cfg.replace(**m.config)
        except ConfigError as err:
            raise ConfigError(f"{recipe.source or 'recipe'}: model: {err}") from None
        if recipe.kind == "pretrain":
            objective = recipe.train.objective
            if objective == "causal" and cfg.bidirectional:
                raise ConfigError("train.objective causal needs a causal model; the model is bidirectional")
            if objective == "mlm" and not cfg.bidirectional:
                raise ConfigError("train.objective mlm needs a bidirectional model (model.config.bidirectional)")
    d = recipe.data
    if d.manifest:
        from genoseq.data.manifests import load_manifest

        load_manifest(d.manifest)  # unknown name -> GenoseqError listing the known ones
    from genoseq.train.paths import resolve_path

    for key in ("fasta", "split_bed", "task", "labels_bed"):
        value = getattr(d, key)
        if value is None or value == "task":
            continue
        try:
            resolve_path(value, manifest=d.manifest, data_dir=d.data_dir, recipe_path=recipe.source, what=key)
        except GenoseqError as err:
            notes.append(f"data.{key}: {err}")
    corpus = recipe.train.pretrain_stage.corpus
    if recipe.train.pretrain_stage.steps > 0 and corpus != "task":
        try:
            resolve_path(corpus, recipe_path=recipe.source, what="pretrain_stage.corpus")
        except GenoseqError as err:
            notes.append(f"train.pretrain_stage.corpus: {err}")
    return notes
