"""Find known abusive images re-posted in Telegram channels, record the hits, support takedown."""

__version__ = "0.1.0"
