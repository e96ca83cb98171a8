"""Planning and running tasks: templates resolved into specs, sub-tasks executed, results merged."""

from __future__ import annotations
