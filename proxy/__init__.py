"""orbridge proxy: the Anthropic Messages API served on top of other models."""

__version__ = "0.1.0"
