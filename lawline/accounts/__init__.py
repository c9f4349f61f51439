"""Accounts: the people who sign in, their passwords, and their sign-in sessions."""
