"""The version of execution-lake, recorded in every run it writes."""

__version__ = "0.1.0"
