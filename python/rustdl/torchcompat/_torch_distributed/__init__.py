"""The parts of ``torch.distributed`` that describe sharded tensors and fully sharded data
parallelism (``torch.distributed.tensor``, ``.fsdp``, ``._composable``, ``.algorithms.join``,
``.device_mesh``). rustdl's data parallelism is DistributedDataParallel over MPI
(:mod:`rustdl.distributed`); it has no sharded tensors. These modules let libraries that check for
them import and run their ordinary path: their classes exist for ``isinstance`` checks (which no
rustdl tensor or module passes), and anything that would shard raises ``NotImplementedError``
saying so."""
