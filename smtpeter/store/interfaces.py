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
