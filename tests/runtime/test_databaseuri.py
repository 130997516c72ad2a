def test_connections_find_a_vanished_server_unless_the_uri_says_otherwise():
    from psycopg.conninfo import conninfo_to_dict

    from smtpeter.runtime import withConnectionDefaults

    made = conninfo_to_dict(withConnectionDefaults("postgresql://u:pw@db.example/mail"))
    assert made["keepalives"] == "1" and made["tcp_user_timeout"] == "30000"
    assert (made["host"], made["user"], made["password"], made["dbname"]) == (
        "db.example",
        "u",
        "pw",
        "mail",
    )
    own = conninfo_to_dict(
        withConnectionDefaults(
            "postgresql:///mail?host=/run/pg&tcp_user_timeout=5000&connect_timeout=3"
        )
    )
    assert (own["tcp_user_timeout"], own["connect_timeout"], own["host"]) == (
        "5000",
        "3",
        "/run/pg",
    )


def test_connections_are_named_for_their_process_unless_the_uri_or_pgappname_names_them(
    monkeypatch,
):
    from psycopg.conninfo import conninfo_to_dict

    from smtpeter.runtime import _databaseuri, nameConnections, withConnectionDefaults

    monkeypatch.setattr(_databaseuri, "_processName", {"application_name": "smtpeter"})
    monkeypatch.delenv("PGAPPNAME", raising=False)
    uri = "postgresql:///mail?host=/run/pg"
    assert conninfo_to_dict(withConnectionDefaults(uri))["application_name"] == "smtpeter"
    nameConnections("smtpeter a/2")
    assert conninfo_to_dict(withConnectionDefaults(uri))["application_name"] == "smtpeter a/2"
    own = withConnectionDefaults(uri + "&application_name=mine")
    assert conninfo_to_dict(own)["application_name"] == "mine"
    monkeypatch.setenv("PGAPPNAME", "theirs")
    assert "application_name" not in conninfo_to_dict(withConnectionDefaults(uri))
