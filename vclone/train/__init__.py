"""Training: configuration, the one-process loop, optimizer and schedule, checkpoints, logs, plots.

Import what you need from the modules (`vclone.train.config`, `vclone.train.loop`, ...); this package
file imports nothing, so reading a config never loads the model code.
"""

__all__: list[str] = []
