"""The tiny random BERTs the tests build models from (no download, a few ms a step): one definition each, which
test files import instead of spelling the dictionary out."""

# ``model.random_init`` of a 2-layer BERT with 32-dimensional states (conf/model/tiny.yaml is the same shape)
TINY_BERT = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
             "max_position_embeddings": 128}
# weights drawn wider than BERT's 0.02, so poolers, heads and layers give visibly different vectors
WIDE_INIT_BERT = {**TINY_BERT, "initializer_range": 0.2}
# without dropout: two runs that should agree (one process vs two) see the same forward pass
NO_DROPOUT_BERT = {**TINY_BERT, "max_position_embeddings": 64, "hidden_dropout_prob": 0.0,
                   "attention_probs_dropout_prob": 0.0}

# ``model.*`` of SimCSEModule on the tiny BERT, with SimCSE's unsupervised [CLS] + MLP-in-training pooler
TINY_MODEL = {
    "name_or_path": None,
    "random_init": {**TINY_BERT, "max_position_embeddings": 64},
    "pooler": "cls",
    "mlp_only_train": True,
}


def mean_pooled_tiny_bert(seed: int = 0):
    """``embed(input_ids, attention_mask, token_type_ids=None)`` of a seeded tiny BERT with mean pooling, in eval
    mode: the plain embed function ``simcse_pl.evaluation.encode`` takes, without a SentenceEncoder around it."""
    import torch

    from simcse_pl.encoders.backbone import load_encoder
    from simcse_pl.encoders.poolers import build_pooler

    torch.manual_seed(seed)
    encoder = load_encoder(None, random_init=TINY_BERT).eval()
    pooler = build_pooler("avg", TINY_BERT["hidden_size"])

    def embed(input_ids, attention_mask, token_type_ids=None):
        out = encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return pooler(out.last_hidden_state, attention_mask)

    return embed
