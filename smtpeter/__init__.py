"""smtpeter: an authenticated SMTP submission gateway on Twisted."""

__version__ = "0.1.0"
