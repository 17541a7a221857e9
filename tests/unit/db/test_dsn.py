"""Multi-host PostgreSQL URLs: parsed once, rendered for the drivers and for SQLAlchemy."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from pos.config import DatabaseSettings
from pos.db import dsn

PAIR = "postgresql://postgres@127.0.0.1:15432,127.0.0.1:15433/posdb?target_session_attrs=read-write"


def test_multi_host_url_keeps_every_host_in_order() -> None:
    parsed = dsn.parse(PAIR)
    assert parsed.hosts == (("127.0.0.1", 15432), ("127.0.0.1", 15433))
    assert parsed.database == "posdb"
    assert parsed.user == "postgres"
    assert parsed.password is None
    assert dict(parsed.query) == {"target_session_attrs": "read-write"}
    assert parsed.libpq() == PAIR


def test_sqlalchemy_form_lists_hosts_as_query_parameters() -> None:
    url = dsn.parse(PAIR).sqlalchemy()
    assert url == (
        "postgresql+psycopg://postgres@/posdb?host=127.0.0.1:15432&host=127.0.0.1:15433"
        "&target_session_attrs=read-write"
    )
    parsed = make_url(url)  # what Alembic does with it: it must not choke on the port list
    assert parsed.query["host"] == ("127.0.0.1:15432", "127.0.0.1:15433")
    assert parsed.database == "posdb"


def test_sqlalchemy_form_parses_back_to_the_same_hosts() -> None:
    first = dsn.parse(PAIR)
    assert dsn.parse(first.sqlalchemy()) == first


def test_libpq_host_and_port_lists_are_understood() -> None:
    parsed = dsn.parse("postgresql://u:pw@/db?host=a,b&port=1,2")
    assert parsed.hosts == (("a", 1), ("b", 2))
    assert parsed.password == "pw"


def test_single_host_url_is_unchanged() -> None:
    url = "postgresql://postgres:postgres@localhost:5433/posdb"
    assert dsn.parse(url).libpq() == url
    assert (
        dsn.parse(url).sqlalchemy() == "postgresql+psycopg://postgres:postgres@localhost:5433/posdb"
    )


def test_one_node_and_another_database() -> None:
    parsed = dsn.parse(PAIR)
    assert (
        parsed.single("127.0.0.1", 15433).libpq() == "postgresql://postgres@127.0.0.1:15433/posdb"
    )
    assert (
        parsed.with_database("postgres")
        .libpq()
        .startswith("postgresql://postgres@127.0.0.1:15432,127.0.0.1:15433/postgres?")
    )


def test_password_is_redacted() -> None:
    assert dsn.parse("postgresql://u:s3cret@h:1/d").redacted() == "postgresql://u:***@h:1/d"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h:1/d", "must start with postgresql://"),
        ("postgresql://u@h:1,h:x/d", "invalid port 'x'"),
        ("postgresql://u@/d", "no host"),
        ("postgresql://u@h:1,h:2/", "names no database"),
        ("postgresql://u@/d?host=a,b&port=1,2,3", "as many ports as hosts"),
    ],
)
def test_malformed_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(dsn.DsnError, match=message):
        dsn.parse(url)


def test_settings_accept_a_primary_and_standby(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", PAIR)
    settings = DatabaseSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.dsn == PAIR
    assert settings.database_name == "posdb"
    assert "host=127.0.0.1:15433" in settings.sqlalchemy_url


def test_alembic_takes_a_url_with_escaped_characters() -> None:
    from pos.db.migrate import alembic_config

    url = dsn.parse("postgresql://u:p%25w@h1:1,h2:2/db").sqlalchemy()
    assert alembic_config(url).get_main_option("sqlalchemy.url") == url
