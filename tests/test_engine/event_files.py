"""Read TensorBoard event files back (TFRecord framing + tensorboardX's Event protobuf), for tests."""
import glob
import os
import struct

from tensorboardX.proto import event_pb2


def read_events(log_dir):
    """Every Event of the event files in ``log_dir``, in file order."""
    events = []
    for path in sorted(glob.glob(os.path.join(log_dir, 'events.out.tfevents.*'))):
        with open(path, 'rb') as f:
            data = f.read()
        offset = 0
        while offset < len(data):
            # record: uint64 length, uint32 CRC of the length, the bytes, uint32 CRC of the bytes
            (length,) = struct.unpack_from('<Q', data, offset)
            payload = data[offset + 12:offset + 12 + length]
            if len(payload) != length:
                raise ValueError(f'{path} is truncated at byte {offset}')
            event = event_pb2.Event()
            event.ParseFromString(payload)
            events.append(event)
            offset += 12 + length + 4
    return events


def scalars_and_images(log_dir):
    """``({tag: [(step, value), ...]}, {tag: [(step, height, width), ...]})`` of the files in ``log_dir``."""
    scalars, images = {}, {}
    for event in read_events(log_dir):
        for value in event.summary.value:
            if value.HasField('image'):
                images.setdefault(value.tag, []).append((event.step, value.image.height, value.image.width))
            elif value.HasField('simple_value'):
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars, images
