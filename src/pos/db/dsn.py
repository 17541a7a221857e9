"""PostgreSQL URLs with one or several hosts, in the one place that takes them apart.

A primary with a standby is reached through a libpq multi-host URL,
``postgresql://user@h1:p1,h2:p2/db?target_session_attrs=read-write``: the driver tries the
hosts in order and keeps the one that accepts writes, so after a failover a reconnect
lands on the new primary without any configuration change. asyncpg and psycopg take that
URL as it is, but ``urllib.parse`` (and so SQLAlchemy) cannot read a port list, hence
this module: it parses the URL once, and renders the forms each consumer needs (plain
libpq for the drivers, ``?host=h:p&host=...`` for SQLAlchemy/Alembic, one URL per host
for tools that must talk to a given node).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, quote, unquote, urlencode

DRIVER_SCHEMES = frozenset({"postgresql", "postgres", "postgresql+asyncpg", "postgresql+psycopg"})
DEFAULT_PORT = 5432


class DsnError(ValueError):
    """The URL cannot be a PostgreSQL URL; the message says what is wrong and how it looks."""


@dataclass(frozen=True)
class PostgresDsn:
    """A parsed PostgreSQL URL: credentials, one or more hosts, database and options."""

    user: str | None
    password: str | None
    hosts: tuple[tuple[str, int], ...]
    database: str
    query: tuple[tuple[str, str], ...] = ()

    @property
    def multi_host(self) -> bool:
        return len(self.hosts) > 1

    def _userinfo(self) -> str:
        if self.user is None:
            return ""
        info = quote(self.user, safe="")
        if self.password is not None:
            info += ":" + quote(self.password, safe="")
        return info + "@"

    def _query_string(self, extra: tuple[tuple[str, str], ...] = ()) -> str:
        pairs = list(extra) + list(self.query)
        # ":" and "," stay readable (host=h:p); "%" never appears unless a value has one.
        return "?" + urlencode(pairs, safe=":,") if pairs else ""

    def libpq(self) -> str:
        """The form asyncpg and psycopg accept: ``postgresql://u@h1:p1,h2:p2/db?...``."""
        hosts = ",".join(f"{h}:{p}" for h, p in self.hosts)
        return f"postgresql://{self._userinfo()}{hosts}/{self.database}{self._query_string()}"

    def sqlalchemy(self) -> str:
        """The psycopg 3 driver URL SQLAlchemy parses; several hosts go to ``?host=h:p``."""
        if not self.multi_host:
            return "postgresql+psycopg://" + self.libpq().split("://", 1)[1]
        hosts = tuple(("host", f"{h}:{p}") for h, p in self.hosts)
        return f"postgresql+psycopg://{self._userinfo()}/{self.database}{self._query_string(hosts)}"

    def with_database(self, name: str) -> PostgresDsn:
        return replace(self, database=name)

    def with_option(self, key: str, value: str) -> PostgresDsn:
        """The same URL with one query option set (replacing an earlier value)."""
        kept = tuple((k, v) for k, v in self.query if k != key)
        return replace(self, query=(*kept, (key, value)))

    def without_option(self, key: str) -> PostgresDsn:
        return replace(self, query=tuple((k, v) for k, v in self.query if k != key))

    def single(self, host: str, port: int) -> PostgresDsn:
        """This URL aimed at one node only, without a session-attribute filter."""
        return replace(self.without_option("target_session_attrs"), hosts=((host, port),))

    def redacted(self) -> str:
        """For logs and error messages: the password replaced by ``***``."""
        shown = self if self.password is None else replace(self, password="***")
        return shown.libpq().replace("%2A%2A%2A", "***")


def _split_host(item: str) -> tuple[str, int]:
    item = item.strip()
    if item.startswith("["):  # [::1]:5432
        host, _, rest = item[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, sep, port_text = item.rpartition(":")
        if not sep:
            host, port_text = item, ""
    if not host:
        raise DsnError(f"DATABASE_URL has an empty host in {item!r}")
    if not port_text:
        return host, DEFAULT_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise DsnError(f"DATABASE_URL has an invalid port {port_text!r} (host {host})")
    return host, int(port_text)


def parse(url: str) -> PostgresDsn:
    """Parse ``postgresql://[user[:pw]@]host[:port][,host[:port]...]/db[?opts]``.

    Hosts may also come as ``?host=h1:p1&host=h2:p2`` (SQLAlchemy style) or as
    ``?host=h1,h2&port=p1,p2`` (libpq style) with an empty host part.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in DRIVER_SCHEMES:
        raise DsnError(
            f"DATABASE_URL must start with postgresql:// (got scheme {scheme!r}); "
            "example: postgresql://postgres:postgres@localhost:5433/posdb"
        )
    rest, _, query_text = rest.partition("?")
    authority, _, path = rest.partition("/")
    userinfo, at, hostlist = authority.rpartition("@")
    user = password = None
    if at:
        raw_user, colon, raw_password = userinfo.partition(":")
        user = unquote(raw_user)
        password = unquote(raw_password) if colon else None
    query = parse_qsl(query_text, keep_blank_values=True)
    host_items = [h for h in hostlist.split(",") if h.strip()] if hostlist else []
    ports = [p for k, v in query if k == "port" for p in v.split(",")]
    for key, value in query:
        if key == "host":
            host_items.extend(v for v in value.split(",") if v.strip())
    query = [(k, v) for k, v in query if k not in {"host", "port"}]
    if not host_items:
        raise DsnError("DATABASE_URL has no host; example: postgresql://user:pw@localhost:5433/db")
    hosts = [_split_host(item) for item in host_items]
    if ports:
        if len(ports) not in {1, len(hosts)}:
            raise DsnError("DATABASE_URL: as many ports as hosts are needed in ?port=")
        if any(not p.isdigit() for p in ports):
            raise DsnError(f"DATABASE_URL has an invalid port in ?port={','.join(ports)}")
        listed = [int(p) for p in ports] * (len(hosts) if len(ports) == 1 else 1)
        hosts = [(h, p) for (h, _), p in zip(hosts, listed, strict=True)]
    database = unquote(path.strip("/"))
    if not database:
        raise DsnError("DATABASE_URL names no database; example: .../posdb")
    return PostgresDsn(user, password, tuple(hosts), database, tuple(query))
