"""buildiso: build and boot-test the Secure Email Gateway installation ISO."""

__version__ = "0.1.0"
