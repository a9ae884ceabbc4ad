"""genoseq.train: recipes, Lightning modules and data modules, and the run orchestration.

Nothing is imported here (Lightning is heavy); import the submodules you need:

- :mod:`genoseq.train.recipe` — ``load_recipe(path, overrides)``, the recipe dataclasses;
- :mod:`genoseq.train.run` — ``run_recipe(recipe, out, resume=False)`` (pretrain / finetune / demo);
- :mod:`genoseq.train.objectives`, :mod:`~genoseq.train.optim`, :mod:`~genoseq.train.metrics` — losses,
  parameter groups and schedule, torchmetrics collections;
- :mod:`genoseq.train.lm_module`, :mod:`~genoseq.train.finetune_module`, :mod:`~genoseq.train.datamodules`
  — the Lightning pieces; :mod:`~genoseq.train.callbacks` — seq-len warm-up, non-finite guard, atomic
  checkpoint I/O.
"""
