"""twistd plugin: ``twistd smtpeter``. Deliberately tiny; the work is in smtpeter.tap."""

from twisted.application.service import ServiceMaker

smtpeter = ServiceMaker(
    "smtpeter",
    "smtpeter.tap",
    "Authenticated SMTP submission gateway with a durable queue and onward delivery",
    "smtpeter",
)
