"""Logging for ``portal serve``: readable text by default, one JSON object a line on request."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any


class JsonFormatter(logging.Formatter):
    """One JSON object per record, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def log_config(level: str, *, as_json: bool) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn's loggers and Portal's own."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter}
        if as_json
        else {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "main", "stream": "ext://sys.stderr"}
    loggers = {
        name: {"handlers": ["main"], "level": level.upper(), "propagate": False}
        for name in ("portal", "uvicorn", "uvicorn.error", "uvicorn.access")
    }
    # httpx logs each request's address at INFO: a bot token travels in Telegram's.
    loggers["httpx"] = {"handlers": ["main"], "level": "WARNING", "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {"main": handler},
        "loggers": loggers,
    }
