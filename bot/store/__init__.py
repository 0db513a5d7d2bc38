"""The bot's durable state: a SQLite store in WAL mode (see ``bot.store.sqlite``)."""

from bot.store.sqlite import Decision, Event, SignalDecision, StepWrite, Store

__all__ = ["Decision", "Event", "SignalDecision", "StepWrite", "Store"]
