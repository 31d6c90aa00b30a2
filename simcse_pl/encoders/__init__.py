"""Sentence encoders: backbone loading (``backbone``), LoRA, prompt templates, poolers (one file each in
``poolers/``) and ``SentenceEncoder``, which puts them together. Same floor as ``data``: it imports only the leaves."""
