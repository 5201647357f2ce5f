"""Trace ids on Aether's log records: a log-record factory that adds them, installed once.

The records Aether writes (loggers ``aether`` and ``aether.*``: ``aether.cache``,
``aether.cost``, ``aether.events``, ``aether.circuit_breaker``...) get the attributes
that OpenTelemetry's own logging instrumentation uses, so a format such as
``%(otelTraceID)s %(otelSpanID)s`` shows them:

- ``otelTraceID``: the current span's trace id, 32 hex digits (``"0"`` with no span);
- ``otelSpanID``: its span id, 16 hex digits (``"0"`` with no span);
- ``otelTraceSampled``: whether it is sampled.

Why a record factory: a ``logging.Filter`` on the ``aether`` logger would not see the
records of its children (logger filters apply only to records made by that logger),
and a handler is the application's to configure. The factory wraps whatever factory is
in place when the first `TelemetryMiddleware` is built (yours, or OpenTelemetry's
``LoggingInstrumentor``), touches only records of Aether's loggers, never replaces a value
already set, and changes no handler, level or format.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["install_log_correlation"]

_installed = False


def install_log_correlation() -> None:
    """Wrap the log-record factory so Aether's records carry trace ids (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    from opentelemetry import trace

    get_current_span = trace.get_current_span
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        name = record.name
        if (name == "aether" or name.startswith("aether.")) and not hasattr(record, "otelTraceID"):
            context = get_current_span().get_span_context()
            if context.is_valid:
                record.otelTraceID = format(context.trace_id, "032x")
                record.otelSpanID = format(context.span_id, "016x")
                record.otelTraceSampled = context.trace_flags.sampled
            else:
                record.otelTraceID = "0"
                record.otelSpanID = "0"
                record.otelTraceSampled = False
        return record

    logging.setLogRecordFactory(factory)
