"""One folder per partner system; each exposes `SYSTEM` (a `hub.systems.SystemAdapter`)."""
