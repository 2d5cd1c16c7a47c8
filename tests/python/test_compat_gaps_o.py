"""PyTorch behaviours found missing or different by running PyTorch programs under
``rustdl.torchcompat`` and comparing with PyTorch (one test per gap)."""

import pytest
import rustdl
from rustdl.data import ChainDataset, DataLoader, Dataset, IterableDataset


class _Count(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


def test_iterable_datasets_without_len_chain_and_list():
    # list() asks len() for a size hint; a dataset without __len__ must answer TypeError
    # ("unknown"), not an exception list() passes on.
    assert list(ChainDataset([_Count(3), _Count(2)])) == [0, 1, 2, 0, 1]
    assert list(_Count(2) + _Count(3)) == [0, 1, 0, 1, 2]
    with pytest.raises(TypeError):
        len(_Count(3))
    with pytest.raises(TypeError):
        len(Dataset())
    batches = [b.tolist() for b in DataLoader(ChainDataset([_Count(3), _Count(4)]), batch_size=3)]
    assert batches == [[0, 1, 2], [0, 1, 2], [3]]
    assert rustdl.cat([rustdl.tensor(b) for b in batches]).sum().item() == 9
