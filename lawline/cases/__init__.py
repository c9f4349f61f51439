"""The case ledger: every contact recorded, cases owned and followed to the end."""
