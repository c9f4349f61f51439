"""The skills-based duty-lawyer queue: routing core, Redis store, service loops."""
