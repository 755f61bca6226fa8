"""The writing side of xmodal: discovery, decoding, encoding, the catalog and the ANN index."""

__version__ = "0.1.0"
