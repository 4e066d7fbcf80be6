"""Posts: one text published to many networks, each under its own rules (:mod:`.adapt`)."""
