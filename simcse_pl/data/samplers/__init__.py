"""Batch samplers (``data/sampler=...``): which examples share a batch. One file each, plus a YAML in
conf/data/sampler/."""
