"""TorchScript's type objects (``torch.TensorType``, ``torch.ListType``, ``torch.IntType`` ...),
which model and export code names in annotations and type checks. rustdl compiles nothing, so
they only describe types: each prints as TorchScript's spelling, compares by structure, and
answers ``isSubtypeOf`` for equal types, ``Any``, optionals and numbers."""

from __future__ import annotations

from typing import Any

__all__ = [
    "AnyType",
    "BoolType",
    "ComplexType",
    "DeviceObjType",
    "DictType",
    "FloatType",
    "IntType",
    "ListType",
    "NoneType",
    "NumberType",
    "OptionalType",
    "StreamObjType",
    "StringType",
    "SymBoolType",
    "SymIntType",
    "TensorType",
    "TupleType",
    "Type",
    "UnionType",
]


class Type:
    """The base of TorchScript types."""

    _name = "Type"

    def _key(self) -> tuple:
        return (type(self).__name__,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Type) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    _annotation = ""

    def str(self) -> str:
        return self._name

    @property
    def annotation_str(self) -> str:
        return self._annotation or self.str()

    def __repr__(self) -> str:
        return self.annotation_str

    __str__ = __repr__

    def kind(self) -> str:
        return type(self).__name__

    def containedTypes(self) -> list[Type]:  # noqa: N802  (TorchScript's names)
        return []

    def isSubtypeOf(self, other: Type) -> bool:  # noqa: N802
        if self == other or isinstance(other, AnyType):
            return True
        if isinstance(other, OptionalType):
            return isinstance(self, NoneType) or self.isSubtypeOf(other.getElementType())
        if isinstance(other, UnionType):
            return any(self.isSubtypeOf(t) for t in other.containedTypes())
        return isinstance(other, NumberType) and isinstance(self, (IntType, FloatType, ComplexType))


class _Singleton(Type):
    _instance: Any = None

    @classmethod
    def get(cls) -> Any:
        if cls.__dict__.get("_instance") is None:
            cls._instance = cls()
        return cls._instance


def _simple(name: str, spelling: str, annotation: str = "") -> type:
    return type(name, (_Singleton,), {"_name": spelling, "_annotation": annotation, "__module__": "torch"})


AnyType = _simple("AnyType", "Any")
NumberType = _simple("NumberType", "Scalar", "number")
IntType = _simple("IntType", "int")
FloatType = _simple("FloatType", "float")
ComplexType = _simple("ComplexType", "complex")
BoolType = _simple("BoolType", "bool")
StringType = _simple("StringType", "str")
NoneType = _simple("NoneType", "NoneType")
DeviceObjType = _simple("DeviceObjType", "Device")
StreamObjType = _simple("StreamObjType", "Stream")
SymIntType = _simple("SymIntType", "SymInt")
SymBoolType = _simple("SymBoolType", "SymBool")


class TensorType(_Singleton):
    _name = "Tensor"

    @classmethod
    def getInferred(cls) -> TensorType:  # noqa: N802
        return cls.get()

    @classmethod
    def create_from_tensor(cls, t: Any) -> TensorType:
        return cls.get()

    def dtype(self) -> Any:
        return None

    def sizes(self) -> Any:
        return None

    def dim(self) -> Any:
        return None


class _OfElement(Type):
    """A type built on one element type: ``List[T]`` (``T[]``) and ``Optional[T]`` (``T?``)."""

    _kind = ""
    _suffix = ""

    def __init__(self, element: Type) -> None:
        self._element = element

    def _key(self) -> tuple:
        return (self._kind, self._element._key())

    def getElementType(self) -> Type:  # noqa: N802
        return self._element

    def containedTypes(self) -> list[Type]:  # noqa: N802
        return [self._element]

    def str(self) -> str:
        return f"{self._element.str()}{self._suffix}"

    @property
    def annotation_str(self) -> str:
        return f"{self._kind}[{self._element.annotation_str}]"


class ListType(_OfElement):
    _kind, _suffix = "List", "[]"

    @staticmethod
    def ofInts() -> ListType:  # noqa: N802
        return ListType(IntType.get())

    @staticmethod
    def ofFloats() -> ListType:  # noqa: N802
        return ListType(FloatType.get())

    @staticmethod
    def ofComplexDoubles() -> ListType:  # noqa: N802
        return ListType(ComplexType.get())

    @staticmethod
    def ofBools() -> ListType:  # noqa: N802
        return ListType(BoolType.get())

    @staticmethod
    def ofStrings() -> ListType:  # noqa: N802
        return ListType(StringType.get())

    @staticmethod
    def ofTensors() -> ListType:  # noqa: N802
        return ListType(TensorType.get())


class OptionalType(_OfElement):
    _kind, _suffix = "Optional", "?"

    @staticmethod
    def ofTensor() -> OptionalType:  # noqa: N802
        return OptionalType(TensorType.get())


class TupleType(Type):
    def __init__(self, elements: Any) -> None:
        self._elements = list(elements)

    def _key(self) -> tuple:
        return ("Tuple", tuple(e._key() for e in self._elements))

    def elements(self) -> list[Type]:
        return list(self._elements)

    def containedTypes(self) -> list[Type]:  # noqa: N802
        return self.elements()

    def str(self) -> str:
        return f"({', '.join(e.str() for e in self._elements)})"

    @property
    def annotation_str(self) -> str:
        return f"Tuple[{', '.join(e.annotation_str for e in self._elements)}]"


class UnionType(Type):
    def __init__(self, types: Any) -> None:
        self._types = list(types)

    def _key(self) -> tuple:
        return ("Union", frozenset(t._key() for t in self._types))

    def containedTypes(self) -> list[Type]:  # noqa: N802
        return list(self._types)

    def str(self) -> str:
        return f"Union[{', '.join(t.str() for t in self._types)}]"

    @property
    def annotation_str(self) -> str:
        return f"Union[{', '.join(t.annotation_str for t in self._types)}]"


class DictType(Type):
    def __init__(self, key: Type, value: Type) -> None:
        self._kv = (key, value)

    def _key(self) -> tuple:
        return ("Dict", self._kv[0]._key(), self._kv[1]._key())

    def getKeyType(self) -> Type:  # noqa: N802
        return self._kv[0]

    def getValueType(self) -> Type:  # noqa: N802
        return self._kv[1]

    def containedTypes(self) -> list[Type]:  # noqa: N802
        return list(self._kv)

    def str(self) -> str:
        return f"Dict({self._kv[0].str()}, {self._kv[1].str()})"

    @property
    def annotation_str(self) -> str:
        return f"Dict[{self._kv[0].annotation_str}, {self._kv[1].annotation_str}]"


for _cls in (Type, TensorType, ListType, OptionalType, TupleType, UnionType, DictType):
    _cls.__module__ = "torch"
