"""``torch.nn.utils.convert_parameters``: flattening parameters to one vector and back."""

from . import parameters_to_vector, vector_to_parameters

__all__ = ["parameters_to_vector", "vector_to_parameters"]
