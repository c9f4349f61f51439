"""Live transcription of every conversation, per speaker."""
