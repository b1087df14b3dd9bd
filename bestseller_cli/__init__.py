"""Watch Amazon ASINs for the #1 Best Seller badge and alert Slack when it moves."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bestseller-cli")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
