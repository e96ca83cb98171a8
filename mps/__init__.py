"""mps: a self-hosted media processing service, wire-compatible with Tencent Cloud MPS API 3.0."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
