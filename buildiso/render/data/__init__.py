"""Data files shipped with buildiso (word list for the password policy)."""
