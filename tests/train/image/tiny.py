"""The tiny image tokenizer and transformer config the image training tests build on."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from engine.train.common import seed_everything
from engine.train.image import data as idata
from engine.train.image import maskgit as mg
from engine.train.image import vq

GRID = 4
PATCH = 8


def tiny_tokenizer_and_config() -> tuple[vq.VQTokenizer, mg.MaskGITConfig, list[np.ndarray]]:
    """A seeded tiny tokenizer in eval mode, its codebook initialised from real encoder
    outputs; a context-reading transformer config over a GRID × GRID window; the photos."""
    seed_everything(0)
    tokenizer = vq.VQTokenizer(vq.tiny_config())
    images = idata.synthetic_images(4, 48)
    tokenizer.train()
    with torch.no_grad():  # initialise the codebook from real encoder outputs
        tokenizer(*vq.batch_of(images, np.random.default_rng(0), 4, GRID * PATCH))
    tokenizer.eval()
    cfg = replace(mg.tiny_config(tokenizer.cfg.codes, GRID), context_input=True, patch=PATCH)
    return tokenizer, cfg, images
