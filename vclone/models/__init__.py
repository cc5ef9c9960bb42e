"""Models as ordered named blocks: the acoustic model (and later speaker encoder and vocoder)."""
