"""
The URLs the gateway's listeners are reached at, read from their endpoint
strings (C{tcp:8081:interface=127.0.0.1} is C{http://127.0.0.1:8081/}), and
the checks of URLs and endpoints that operators give: the base URL of
rewritten links (C{--public-url}), the dashboard's addresses, C{--metrics}.
"""

from __future__ import annotations

from urllib.parse import urlsplit

#: The longest URL an operator may give for links or webhooks.
MAX_URL = 2048


def checkHttpUrl(url: str) -> str:
    """
    C{url} if it is an http(s) URL that can be written into a request, a
    header field or a link as it is: printable ASCII without white space
    (a host of other letters in its C{xn--} form), a host name, no user
    name or password, a port up to 65535, at most L{MAX_URL} characters;
    else a L{ValueError} that says what is wrong.
    """
    shown = repr(url[:100]) + ("..." if len(url) > 100 else "")
    if len(url) > MAX_URL:
        raise ValueError(f"{shown}: a URL of at most {MAX_URL} characters")
    if not url.isascii() or not url.isprintable() or " " in url:
        raise ValueError(
            f"{shown}: a URL is printable ASCII without spaces or line breaks"
            " (a host name in other letters in its xn-- form)"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{shown} is not an http:// or https:// URL with a host name")
    if "@" in parts.netloc:
        raise ValueError(f"{shown}: a URL here has no user name or password")
    parts.port  # noqa: B018 (a port past 65535 is urlsplit's ValueError)
    return url


def checkPublicUrl(url: str) -> str:
    """An http(s) base URL (L{checkHttpUrl}) without query or fragment, nor its trailing slash."""
    url = checkHttpUrl(url.strip())
    parts = urlsplit(url)
    if parts.query or parts.fragment or any(c in url for c in "\"'<>"):
        raise ValueError(f"{url!r}: a base URL has no query, fragment, spaces or quotes")
    return url.rstrip("/")


def defaultPublicUrl(hostname: str, http: tuple[str, ...]) -> str:
    """
    The base URL of rewritten links when --public-url is not given: this
    host's name and the port of the first --http listener (C{tcp:9090} gives
    C{http://HOSTNAME:9090}; an C{ssl:} listener gives https; ports 80 and 443
    are left out). The listener's interface is not used: the address it binds
    to is rarely the name readers reach it by. A listener without a TCP port
    (C{unix:}) leaves the port it had always, 8080.
    """
    listener = tcpListener(http[0]) if http else None
    scheme, port = (listener[0], listener[2]) if listener else ("http", 8080)
    host = f"[{hostname}]" if ":" in hostname else hostname
    return f"{scheme}://{host}" + ("" if port == {"http": 80, "https": 443}[scheme] else f":{port}")


def dashboardUrls(hostname: str, dashboard: tuple[str, ...]) -> list[str]:
    """
    Where each dashboard listener is reached: C{tcp:8081:interface=127.0.0.1}
    is C{http://127.0.0.1:8081/}; without an interface (or one that means every
    address), the host is C{hostname}; C{ssl:} is https. An endpoint without a
    TCP port (C{unix:}) is given as it is.
    """
    urls = []
    for description in dashboard:
        listener = tcpListener(description)
        if listener is None:
            urls.append(description)
            continue
        scheme, interface, port = listener
        host = hostname if interface in ("", "0.0.0.0", "::") else interface
        host = f"[{host}]" if ":" in host else host
        urls.append(f"{scheme}://{host}:{port}/")
    return urls


def tcpListener(description: str) -> tuple[str, str, int] | None:
    """
    A listening endpoint string's URL scheme, interface (empty: every
    address) and port; None for one that has no TCP port (C{unix:}).
    """
    fields, current, escaped = [], "", False
    for c in description:
        if escaped:
            current, escaped = current + c, False
        elif c == "\\":
            escaped = True
        elif c == ":":
            fields.append(current)
            current = ""
        else:
            current += c
    kind, *rest = [*fields, current]
    named = dict(f.split("=", 1) for f in rest if "=" in f)
    positional = [f for f in rest if "=" not in f]
    port = named.get("port") or (positional[0] if positional else "")
    if kind.lower() not in ("tcp", "tcp6", "ssl") or not port.isdigit():
        return None
    return ("https" if kind.lower() == "ssl" else "http"), named.get("interface", ""), int(port)


def metricsEndpoint(text: str) -> str:
    """C{--metrics}: a bare port is on loopback only; else the endpoint as given."""
    text = text.strip()
    return f"tcp:{text}:interface=127.0.0.1" if text.isdigit() else text
