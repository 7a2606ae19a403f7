"""annotator: paragraph, span and quote-attribution annotation in the terminal."""

__version__ = "0.1.0"
