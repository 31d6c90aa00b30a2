"""The tiny random BERT that unit tests build SimCSEModule from (no download, a few ms a step)."""

TINY_MODEL = {
    "name_or_path": None,
    "random_init": {
        "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
        "max_position_embeddings": 64,
    },
    "pooler": "cls",
    "mlp_only_train": True,
}
