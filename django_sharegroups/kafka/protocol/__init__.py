"""Kafka's wire protocol: message definitions as data and one generic codec.

Why not kafka-python? kafka-python 3.0.12 (the newest release on PyPI when this was
written) has a schema-driven layer (``kafka.protocol``: bundled JSON schemas, flexible
versions, tagged fields, compact types, UUIDs), but it bundles no schema for
ShareGroupDescribe, DescribeShareGroupOffsets, AlterShareGroupOffsets or
DeleteShareGroupOffsets. Adding them would mean feeding our own JSON files to its message
metaclass through the undocumented ``load_json`` class keyword and relying on its private
``_json``/``_struct`` attributes, while pulling in a whole second Kafka client. That is the
"reaching into private internals" we ruled out, so this package carries its own compact
codec: :mod:`.schema` (types and fields), :mod:`.codec` (encode/decode any schema),
:mod:`.frames` (headers), :mod:`.messages` (the RPCs we speak).
"""

from .codec import Struct, decode, encode
from .frames import (
    decode_request,
    decode_response,
    encode_request,
    encode_response,
    peek_correlation_id,
)
from .messages import API_BY_KEY, APIS
from .schema import Api, ArrayType, Field, MessageSchema, Primitive, StructType
from .versions import VersionRange

__all__ = [
    "API_BY_KEY",
    "APIS",
    "Api",
    "ArrayType",
    "Field",
    "MessageSchema",
    "Primitive",
    "Struct",
    "StructType",
    "VersionRange",
    "decode",
    "decode_request",
    "decode_response",
    "encode",
    "encode_request",
    "encode_response",
    "peek_correlation_id",
]
