"""The ``generate`` family: a language model on the device through LiteRT-LM."""
