"""Temporary: a PostgreSQL for the shared queue's tests (replaced by the suite's fixture)."""

import os
import uuid

import psycopg
import pytest

SOCKET = os.environ.get("SMTPETER_TEST_PGHOST", "/tmp/pgdev")


@pytest.fixture
def pgconnect():
    name = "q" + uuid.uuid4().hex[:12]
    with psycopg.connect(host=SOCKET, user="postgres", dbname="postgres", autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    yield lambda: psycopg.connect(host=SOCKET, user="postgres", dbname=name)
    with psycopg.connect(host=SOCKET, user="postgres", dbname="postgres", autocommit=True) as c:
        c.execute(f"DROP DATABASE {name} WITH (FORCE)")
