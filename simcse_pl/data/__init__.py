"""Training data: file checks and readers (``sources``, pair files), samplers, views, collation and batching.

A floor above the leaves (``errors``, ``checks``, ``hub``, ``config``, ``console``): it imports nothing else of
simcse_pl. A new sampler is one file in ``samplers/`` plus one YAML in conf/data/sampler/; a new view, one file in
``views/`` plus one YAML in conf/data/views/."""
