"""lawline: the platform behind China's 12348 public legal service hotline."""

__version__ = "0.1.0"
