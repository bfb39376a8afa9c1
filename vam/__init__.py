"""vam: video asset management for a small video team."""

__version__ = "0.1.0"
