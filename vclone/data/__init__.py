"""Corpus readers, preparation (corpus -> manifest + features), datasets."""
