"""Quality review of every call (质量评价): rules over its per-speaker transcript."""
