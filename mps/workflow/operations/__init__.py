"""Sub-task operations: each runs one resolved sub-task with an :class:`OperationContext`.

One module per operation (``transcode``, ``snapshot``, ...), all the same shape:
``run_<op>(subtask, ctx) -> <result item>``.
"""

from __future__ import annotations
