"""``torch.distributed.elastic``: what training scripts import from it (the ``@record`` error
recorder). rustdl launches no elastic agents."""
