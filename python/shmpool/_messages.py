"""Protobuf messages as the dicts `shmpoolctl --json` prints (ctl/json.h), by reflection.

Keys are the .proto field names; every scalar field is present, zeros included; unset message
fields are left out, and so are unset optional fields, except that an undefined statistic (an
unset optional scalar declared with the (shmpool.v1.stat) option) is None (JSON null);
repeated fields are lists; enums are their
names; google.protobuf.Timestamp is an RFC 3339 string, google.protobuf.Duration a float of
seconds; a double that is not finite is None (JSON null). 64-bit integers are Python ints.
"""

import math

from google.protobuf import descriptor

_FD = descriptor.FieldDescriptor


def to_dict(message):
    """`message` as a dict (a Timestamp as a string, a Duration as seconds)."""
    name = message.DESCRIPTOR.full_name
    if name == "google.protobuf.Timestamp":
        return message.ToJsonString()
    if name == "google.protobuf.Duration":
        return message.seconds + message.nanos / 1e9
    out = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.label == _FD.LABEL_REPEATED:
            out[field.name] = [_value(field, v) for v in value]
        elif not field.has_presence or message.HasField(field.name):
            out[field.name] = _value(field, value)
        elif field.type != _FD.TYPE_MESSAGE and _is_stat(field):
            out[field.name] = None
    return out


def _is_stat(field):
    """True when `field` carries the (shmpool.v1.stat) option of stat_options.proto."""
    return any(
        f.full_name == "shmpool.v1.stat" for f, _ in field.GetOptions().ListFields()
    )


def _value(field, value):
    if field.type == _FD.TYPE_MESSAGE:
        return to_dict(value)
    if field.type == _FD.TYPE_ENUM:
        known = field.enum_type.values_by_number.get(value)
        return known.name if known is not None else value
    if field.type in (_FD.TYPE_DOUBLE, _FD.TYPE_FLOAT) and not math.isfinite(value):
        return None
    return value
