"""Pure codecs: bytes in, bytes out."""
