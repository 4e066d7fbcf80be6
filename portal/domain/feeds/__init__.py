"""Feeds: fetching them politely and safely (:mod:`.fetch`), and deciding when to come back
(:mod:`.schedule`)."""
