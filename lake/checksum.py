"""CRC32C in GCS's own notation (base64 of the big-endian checksum), for any store."""

import base64

import google_crc32c


def crc32c_b64(data: bytes) -> str:
    return base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode("ascii")
