"""``mask``: PromptBERT's sentence vector (Jiang et al. 2022): the last-layer state of the mask token of the prompt
template (``model.prompt.template``, e.g. ``This sentence : "[X]" means [MASK] .``), followed by SimCSE's MLP head
in training only (``mlp_only_train``, the paper's unsupervised recipe).

Not exportable to sentence-transformers: its prompts are prefixes, and its ``Pooling`` takes the first token, the
last token or an average, none of which is a mask token followed by the rest of the template. The export is the
Hugging Face model with ``simcse_pl.json`` (template, pooler), which ``SimCSE.from_pretrained`` reproduces.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from simcse_pl.errors import NotExportable
from simcse_pl.encoders.poolers.base import Pooler, register


@register("mask")
class MaskToken(Pooler):
    has_head = True

    def pool(self, last_hidden: Tensor, attention_mask: Tensor, hidden_states=None, positions=None) -> Tensor:
        if positions is None:
            raise ValueError(
                "pooler 'mask' reads the mask token of a prompt template: set model.prompt.template "
                "(e.g. 'This sentence : \"[X]\" means [MASK] .')"
            )
        rows = torch.arange(last_hidden.shape[0], device=last_hidden.device)
        return last_hidden[rows, positions.to(last_hidden.device)]

    def sentence_transformers(self, dim: int) -> list[nn.Module]:
        raise NotExportable(
            "pooler 'mask' takes the mask token inside the prompt template, and sentence-transformers can neither put "
            "text after the sentence (its prompts are prefixes) nor pool a token other than the first or the last"
        )
