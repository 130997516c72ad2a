"""
The larger helpers of L{smtpeter.testing}, each a module of its own: the
receiving SMTP server (L{SinkServer}), the tests' PostgreSQL server
(L{PostgreSQLServer}, and L{RoundTrips} on its connections) and HAProxy
in front of gateways (L{HAProxy}, the benchmarks' too). Import
them from L{smtpeter.testing}, which re-exports them; this package is
private so that the top level keeps one public C{testing} module.
"""

from ._haproxy import HAProxy
from ._postgres import PostgreSQLServer, RoundTrips
from ._sink import Received, SinkServer, _Server

__all__ = ["HAProxy", "PostgreSQLServer", "Received", "RoundTrips", "SinkServer", "_Server"]
