"""The vclone command line (installed as the `vclone.cli` package)."""
