"""Build of the ``objects`` family (NanoDet from an npm package; see models/objects/README.md)."""
