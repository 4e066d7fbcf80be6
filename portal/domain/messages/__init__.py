"""Reaching a person: one message over their messengers (``send``), each copy delivered by a
job of the durable queue (``deliver``)."""
