"""The ``native`` client adapter (work in progress): record batch decoding first."""
