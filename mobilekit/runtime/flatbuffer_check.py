"""A bounded structural check of a ``.tflite`` file against the TFLite schema, before anything reads it.

The flatbuffer accessors (Python's and LiteRT's own) trust every offset in the file: a flipped
byte sends them past the end of the buffer. This check walks every table the schema
(tensorflow/compiler/mlir/lite/schema/schema.fbs) defines for a model and proves, without
trusting anything, that each offset, vtable, vector and string lies inside the file, that
operator, tensor, buffer and subgraph indices are in range and that shapes are non-negative and
bounded. Its work is bounded too: at most ``MAX_TABLES`` tables, each field read once per visit.

Field numbers below are the schema's field ids (vtable slot = 4 + 2 * id).
"""

from __future__ import annotations

import struct

SCHEMA_VERSION = 3
MAX_TABLES = 1_000_000  # flatbuffers' own verifier default
MAX_SUBGRAPHS = 10_000
MAX_RANK = 16
MAX_ELEMENTS = 2**31 - 1  # per tensor: LiteRT indexes elements with int32
_OPTIONAL = -1  # an omitted operator input

# builtin options (union BuiltinOptions / BuiltinOptions2 member number) -> the fields that are
# not plain scalars: ("vector", field, element bytes), ("string", field) or ("subgraph", field)
_OPTIONS = {
    3: [("vector", 1, 4), ("vector", 2, 4)],  # ConcatEmbeddingsOptions
    8: [("vector", 5, 1)],  # FullyConnectedOptions.quant_spec
    16: [("subgraph", 0)],  # CallOptions
    17: [("vector", 0, 4)],  # ReshapeOptions.new_shape
    30: [("vector", 0, 4)],  # SqueezeOptions.squeeze_dims
    92: [("subgraph", 0), ("subgraph", 1)],  # IfOptions
    93: [("subgraph", 0), ("subgraph", 1)],  # WhileOptions
    103: [("subgraph", 0)],  # CallOnceOptions
    111: [("string", 0), ("string", 1)],  # VarHandleOptions
    115: [("vector", 0, 4)],  # BucketizeOptions.boundaries
}
_OPTIONS_2 = {
    2: [("vector", 0, 8)],  # StablehloBroadcastInDimOptions
    3: [("vector", 0, 8), ("vector", 1, 8), ("vector", 2, 8)],  # StablehloSliceOptions
    4: [*(("vector", f, 8) for f in (0, 1, 2, 3, 7, 10, 13)), ("vector", 4, 1), ("vector", 16, 4)],
    5: [("string", 0), ("string", 2), ("vector", 4, 4), ("vector", 5, 1)],  # StablehloCustomCall
    6: [("vector", 0, 8), ("subgraph", 1)],  # StablehloReduceOptions
    7: [("vector", 1, 8), ("vector", 2, 8), ("vector", 3, 8), ("subgraph", 6)],  # Scatter
    9: [("vector", 0, 8)],  # StablehloDynamicSliceOptions
    10: [("vector", 0, 8), ("vector", 1, 8), ("vector", 2, 8)],  # StablehloPadOptions
    12: [*(("vector", f, 8) for f in (0, 1, 2, 3)), ("vector", 4, 4)],  # StablehloDotGeneral
    13: [*(("vector", f, 8) for f in (0, 1, 2, 3, 4)), ("subgraph", 5)],  # ReduceWindow
    14: [("subgraph", 2)],  # StablehloSortOptions
    15: [("subgraph", 0), ("subgraph", 1)],  # StablehloWhileOptions
    16: [("vector", 0, 8), ("vector", 1, 8), ("vector", 2, 8), ("vector", 4, 8)],  # Gather
    17: [("vector", 0, 8)],  # StablehloTransposeOptions
    21: [("string", 0), ("subgraph", 1), ("vector", 2, 1)],  # StableHLOCompositeOptions
    23: [("vector", 0, 4)],  # StablehloCaseOptions (branch subgraph indices)
}
_SPARSE_INDEX_BYTES = {1: 4, 2: 2, 3: 1}  # SparseIndexVector: Int32Vector, Uint16Vector, Uint8Vector


class MalformedModel(ValueError):
    """What is wrong with the file, as one line without the file name."""


class _File:
    """The bytes and a budget of table visits; every read is bounds-checked."""

    def __init__(self, data: bytes):
        self.data = data
        self.size = len(data)
        self.tables = 0

    def unpack(self, fmt: str, pos: int, what: str):
        width = struct.calcsize(fmt)
        if pos < 0 or pos + width > self.size:
            raise MalformedModel(f"{what}: {width} bytes at offset {pos} lie outside the file "
                                 f"({self.size} bytes)")
        return struct.unpack_from(fmt, self.data, pos)[0]

    def follow(self, pos: int, what: str) -> int:
        """The target of the uoffset stored at ``pos``."""
        offset = self.unpack("<I", pos, what)
        target = pos + offset
        if offset >= 2**31 or target >= self.size:
            raise MalformedModel(f"{what}: offset {offset} at {pos} points outside the file ({self.size} bytes)")
        return target

    def table(self, pos: int, what: str) -> _Table:
        self.tables += 1
        if self.tables > MAX_TABLES:
            raise MalformedModel(f"more than {MAX_TABLES:,} tables (tables repeated or looping)")
        return _Table(self, pos, what)

    def vector(self, pos: int, element_bytes: int, what: str) -> tuple[int, int]:
        """(first element's offset, length) of the vector at ``pos``, all of it inside the file."""
        if pos % 4:
            raise MalformedModel(f"{what}: vector at offset {pos} is not 4-byte aligned")
        length = self.unpack("<I", pos, what)
        if pos + 4 + length * element_bytes > self.size:
            raise MalformedModel(f"{what}: {length} elements of {element_bytes} bytes at offset {pos} "
                                 f"run past the end of the file ({self.size} bytes)")
        return pos + 4, length


class _Table:
    """One table: its vtable and object proven inside the file; fields read through it."""

    def __init__(self, file: _File, pos: int, what: str):
        self.file, self.pos, self.what = file, pos, what
        if pos % 4:
            raise MalformedModel(f"{what}: table at offset {pos} is not 4-byte aligned")
        vtable = pos - file.unpack("<i", pos, what)
        if vtable % 2:
            raise MalformedModel(f"{what}: vtable at offset {vtable} is not 2-byte aligned")
        self.vtable_size = file.unpack("<H", vtable, f"{what} vtable")
        self.object_size = file.unpack("<H", vtable + 2, f"{what} vtable")
        if self.vtable_size < 4 or self.vtable_size % 2 or vtable + self.vtable_size > file.size:
            raise MalformedModel(f"{what}: vtable at offset {vtable} has a bad size {self.vtable_size}")
        if self.object_size < 4 or pos + self.object_size > file.size:
            raise MalformedModel(f"{what}: table of {self.object_size} bytes at offset {pos} runs past "
                                 f"the end of the file")
        self.vtable = vtable

    def _field(self, field: int, width: int) -> int | None:
        """Offset of the field in the file, None when absent; the field lies inside the table."""
        slot = 4 + 2 * field
        if slot >= self.vtable_size:
            return None
        relative = self.file.unpack("<H", self.vtable + slot, self.what)
        if relative == 0:
            return None
        if relative + width > self.object_size:
            raise MalformedModel(f"{self.what}: field {field} at {relative} lies outside its "
                                 f"{self.object_size}-byte table")
        return self.pos + relative

    def scalar(self, field: int, fmt: str, default: int = 0) -> int:
        pos = self._field(field, struct.calcsize(fmt))
        return default if pos is None else self.file.unpack(fmt, pos, self.what)

    def _target(self, field: int, what: str) -> int | None:
        pos = self._field(field, 4)
        return None if pos is None else self.file.follow(pos, what)

    def table(self, field: int, what: str) -> _Table | None:
        target = self._target(field, what)
        return None if target is None else self.file.table(target, what)

    def vector(self, field: int, element_bytes: int, what: str) -> tuple[int, int]:
        target = self._target(field, what)
        return (0, 0) if target is None else self.file.vector(target, element_bytes, what)

    def ints(self, field: int, what: str) -> tuple[int, ...]:
        start, length = self.vector(field, 4, what)
        return struct.unpack_from(f"<{length}i", self.file.data, start) if length else ()

    def string(self, field: int, what: str) -> None:
        start, length = self.vector(field, 1, what)
        if start and (start + length >= self.file.size or self.file.data[start + length] != 0):
            raise MalformedModel(f"{what}: string at offset {start - 4} has no terminating zero byte")

    def tables(self, field: int, what: str) -> list[_Table]:
        start, length = self.vector(field, 4, what)
        return [self.file.table(self.file.follow(start + 4 * i, f"{what} {i}"), f"{what} {i}")
                for i in range(length)]


def _index(value: int, high: int, what: str, of: str, low: int = 0) -> None:
    if not low <= value < high:
        raise MalformedModel(f"{what} is {value}, not a valid {of} index (0..{high - 1})")


def _in_range(values, low: int, high: int, what: str, of: str) -> None:
    for i, value in enumerate(values):
        _index(value, high, f"{what} [{i}]", of, low)


def check(data: bytes) -> None:
    """Raise MalformedModel naming what is wrong unless ``data`` is a structurally sound model."""
    _check_model(_File(data))


def _check_model(file: _File) -> None:
    data = file.data
    if file.size < 8 or data[4:8] != b"TFL3":
        raise MalformedModel("no TFL3 file identifier")
    model = file.table(file.follow(0, "root offset"), "model")
    version = model.scalar(0, "<I")
    if version != SCHEMA_VERSION:
        raise MalformedModel(f"schema version {version}, expected {SCHEMA_VERSION}")
    opcodes = model.tables(1, "operator code")
    for i, code in enumerate(opcodes):
        code.string(1, f"operator code {i} custom code")
    buffers = model.tables(4, "buffer")
    for i, buffer in enumerate(buffers):
        _check_buffer(buffer, i, file.size)
    subgraph_tables = model.tables(2, "subgraph")
    if not 1 <= len(subgraph_tables) <= MAX_SUBGRAPHS:
        raise MalformedModel(f"{len(subgraph_tables)} subgraphs (expected 1 to {MAX_SUBGRAPHS:,})")
    counts = {"operator code": len(opcodes), "buffer": max(len(buffers), 1), "subgraph": len(subgraph_tables)}
    tensors = [_check_subgraph(sg, f"subgraph {i}", counts) for i, sg in enumerate(subgraph_tables)]
    model.string(3, "description")
    _in_range(model.ints(5, "metadata buffer"), 0, counts["buffer"], "metadata buffer", "buffer")
    for i, meta in enumerate(model.tables(6, "metadata")):
        meta.string(0, f"metadata {i} name")
        _index(meta.scalar(1, "<I"), counts["buffer"], f"metadata {i} buffer", "buffer")
    for i, signature in enumerate(model.tables(7, "signature")):
        _check_signature(signature, f"signature {i}", tensors)
    for i, group in enumerate(model.tables(8, "external buffer group")):
        group.string(0, f"external buffer group {i} name")
    for i, external in enumerate(model.tables(9, "external buffer")):
        external.string(4, f"external buffer {i} packing")


def _check_buffer(buffer: _Table, index: int, file_size: int) -> None:
    buffer.vector(0, 1, f"buffer {index} data")
    offset, size = buffer.scalar(1, "<Q"), buffer.scalar(2, "<Q")
    if offset > 1 and offset + size > file_size:  # data kept after the flatbuffer (models > 2 GB)
        raise MalformedModel(f"buffer {index}: {size} bytes at offset {offset} run past the end of the "
                             f"file ({file_size} bytes)")


def _check_subgraph(subgraph: _Table, what: str, counts: dict) -> int:
    """The subgraph's tensor count, after checking its tensors, operators and io."""
    tensors = subgraph.tables(0, f"{what} tensor")
    for i, tensor in enumerate(tensors):
        _check_tensor(tensor, f"{what} tensor {i}", counts)
    n = len(tensors)
    _in_range(subgraph.ints(1, f"{what} inputs"), 0, n, f"{what} input", "tensor")
    _in_range(subgraph.ints(2, f"{what} outputs"), 0, n, f"{what} output", "tensor")
    for i, op in enumerate(subgraph.tables(3, f"{what} operator")):
        _check_operator(op, f"{what} operator {i}", n, counts)
    subgraph.string(4, f"{what} name")
    return n


def _check_shape(dims, what: str, allow_unknown: bool) -> None:
    if len(dims) > MAX_RANK:
        raise MalformedModel(f"{what}: rank {len(dims)} (at most {MAX_RANK})")
    elements = 1
    for d in dims:
        if d < 0 and not (allow_unknown and d == -1):
            raise MalformedModel(f"{what}: dimension {d} in {list(dims)}")
        elements *= max(d, 1)
    if elements > MAX_ELEMENTS:
        raise MalformedModel(f"{what}: {elements:,} elements in {list(dims)} (at most {MAX_ELEMENTS:,})")


def _check_tensor(tensor: _Table, what: str, counts: dict) -> None:
    shape = tensor.ints(0, f"{what} shape")
    _check_shape(shape, f"{what} shape", allow_unknown=False)
    _index(tensor.scalar(2, "<I"), counts["buffer"], f"{what} buffer", "buffer")
    tensor.string(3, f"{what} name")
    quantization = tensor.table(4, f"{what} quantization")
    if quantization is not None:
        _check_quantization(quantization, f"{what} quantization", len(shape))
    sparsity = tensor.table(6, f"{what} sparsity")
    if sparsity is not None:
        _check_sparsity(sparsity, f"{what} sparsity")
    signature = tensor.ints(7, f"{what} shape signature")
    if signature:
        _check_shape(signature, f"{what} shape signature", allow_unknown=True)
        if len(signature) != len(shape):
            raise MalformedModel(f"{what}: shape {list(shape)} and shape signature {list(signature)} differ in rank")
    for i, variant in enumerate(tensor.tables(9, f"{what} variant")):
        _check_shape(variant.ints(0, f"{what} variant {i} shape"), f"{what} variant {i} shape", allow_unknown=True)


def _check_quantization(q: _Table, what: str, rank: int) -> None:
    scales = q.vector(2, 4, f"{what} scale")[1]
    zero_points = q.vector(3, 8, f"{what} zero point")[1]
    q.vector(0, 4, f"{what} min")
    q.vector(1, 4, f"{what} max")
    if scales > 1 and zero_points not in (0, scales):
        raise MalformedModel(f"{what}: {scales} scales but {zero_points} zero points")
    dimension = q.scalar(6, "<i")
    if scales > 1 and not 0 <= dimension < rank:
        raise MalformedModel(f"{what}: quantized dimension {dimension} of a rank-{rank} tensor")
    if q.scalar(4, "<B"):
        q.table(5, f"{what} details")  # custom or blockwise details: bounds only


def _check_sparsity(sparsity: _Table, what: str) -> None:
    sparsity.ints(0, f"{what} traversal order")
    sparsity.ints(1, f"{what} block map")
    for i, dim in enumerate(sparsity.tables(2, f"{what} dimension")):
        for type_field, value_field in ((2, 3), (4, 5)):
            kind = dim.scalar(type_field, "<B")
            values = dim.table(value_field, f"{what} dimension {i} index vector") if kind else None
            if values is not None and kind in _SPARSE_INDEX_BYTES:
                values.vector(0, _SPARSE_INDEX_BYTES[kind], f"{what} dimension {i} indices")


def _check_operator(op: _Table, what: str, tensors: int, counts: dict) -> None:
    _index(op.scalar(0, "<I"), counts["operator code"], f"{what} opcode", "operator code")
    for field, name in ((1, "inputs"), (2, "outputs"), (8, "intermediates")):
        _in_range(op.ints(field, f"{what} {name}"), _OPTIONAL, tensors, f"{what} {name}", "tensor")
    op.vector(5, 1, f"{what} custom options")
    op.vector(7, 1, f"{what} mutating variable inputs")
    offset, size = op.scalar(9, "<Q"), op.scalar(10, "<Q")
    if offset and offset + size > op.file.size:
        raise MalformedModel(f"{what}: custom options of {size} bytes at offset {offset} run past the end of the file")
    for type_field, value_field, known in ((3, 4, _OPTIONS), (11, 12, _OPTIONS_2)):
        kind = op.scalar(type_field, "<B")
        options = op.table(value_field, f"{what} options") if kind else None
        if options is not None:
            _check_options(options, known.get(kind, []), f"{what} options", counts)


def _check_options(options: _Table, fields: list, what: str, counts: dict) -> None:
    for kind, field, *width in fields:
        if kind == "vector":
            options.vector(field, width[0], f"{what} field {field}")
        elif kind == "string":
            options.string(field, f"{what} field {field}")
        else:  # a subgraph index
            _index(options.scalar(field, "<i"), counts["subgraph"], f"{what} field {field}", "subgraph")


def _check_signature(signature: _Table, what: str, tensors: list[int]) -> None:
    index = signature.scalar(4, "<I")
    _index(index, len(tensors), f"{what} subgraph", "subgraph")
    signature.string(2, f"{what} key")
    signature.string(3, f"{what} tag")
    for field, name in ((0, "input"), (1, "output")):
        for i, entry in enumerate(signature.tables(field, f"{what} {name}")):
            entry.string(0, f"{what} {name} {i} name")
            _index(entry.scalar(1, "<I"), tensors[index], f"{what} {name} {i} tensor", "tensor")
