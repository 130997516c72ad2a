"""Interfaces of the store: what the gateway asks of persistent state."""

from zope.interface import Interface


class ILoginStore(Interface):
    """SMTP logins, as the running gateway sees them."""

    def authenticate(name: str, password: str):
        """
        Check a name and password.

        @return: C{Deferred[LoginRecord | None]}: the login if the password
            is right and the login is enabled, else C{None}. Takes as long
            for an unknown name as for a wrong password.
        """

    def count():
        """@return: C{Deferred[int]}, the number of logins."""


class IAuthFailureStore(Interface):
    """
    Where failed AUTH attempts are counted: shared by every worker process
    (the database), or in memory for one process and for tests.
    """

    def authBannedUntil(address: str, now: float):
        """@return: C{Deferred[float | None]}, when the address's ban ends, if it is banned."""

    def recordAuthFailure(address: str, now: float, window: float, limit: int, banFor: float):
        """
        Note a failure; ban the address until C{now + banFor} once it has
        C{limit} failures within C{window}. @return: C{Deferred[int]}, its
        failures within C{window}, this one included.
        """
