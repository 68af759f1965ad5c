"""Back-off after failed local sign-ins (issue 14: 6.8 guesses a second on one websocket, one
undeletable audit row per failure).

Per account name and per client, shared through the database by every replica, on SQLite and
the real PostgreSQL fixture. The clock of the failure counts is set by the tests (a patched
``_now``); everything else is the real store.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import threading

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine, inspect, make_url, text

from myelo_cds.auth import ACCOUNT_BACKOFF, CLIENT_BACKOFF, Backoff, SignInThrottled, User
from myelo_cds.auth import _passwords as passwords
from myelo_cds.records import Store
from myelo_cds.records import _sign_in_failures as failures
from myelo_cds.records._database import make_engine
from myelo_cds.records._privileges import migrate_schema
from tests.pg_fixture import PostgresServer

PASSWORD = "a long clinic passphrase"
WRONG = "not the passphrase at all"
START = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)


class Clock:
    """The failure counts' clock, moved by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr(failures, "_now", moved)
    return moved


@pytest.fixture
def store(store: Store) -> Store:
    """The record store with a clinician's and a resident's local accounts."""
    store.add_account("dr.lee", "clinician", actor="admin.ng", password=PASSWORD)
    store.add_account("res.kim", "resident", actor="admin.ng", password=PASSWORD)
    return store


def _throttled_for(store: Store, user_id: str, password: str, client: str | None = None) -> int:
    """The wait in seconds the store answers with (fails the test if it signs in or refuses)."""
    with pytest.raises(SignInThrottled) as throttled:
        store.sign_in(user_id, password, client=client)
    return throttled.value.retry_after_seconds


# --- the policy -------------------------------------------------------------------------------


def test_four_failures_are_free_then_the_wait_doubles_up_to_the_cap() -> None:
    waits = [ACCOUNT_BACKOFF.wait(n).total_seconds() for n in range(16)]
    assert waits == [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
    assert ACCOUNT_BACKOFF.wait(10_000).total_seconds() == 900, "no overflow far past the cap"
    assert [CLIENT_BACKOFF.wait(n).total_seconds() for n in (19, 20, 21, 40)] == [0, 1, 2, 300]


def test_a_guessing_script_gets_about_a_hundred_tries_a_day_at_the_cap() -> None:
    backoff = Backoff(free=4, first_seconds=1, cap_seconds=900, forget_after=dt.timedelta(hours=1))
    elapsed, tries = 0.0, 0
    while elapsed < 86_400:
        elapsed += backoff.wait(tries).total_seconds() or 0.15  # 6.8 tries a second when free
        tries += 1
    assert tries < 110, "issue 14 measured 6.8 a second, i.e. 587,520 a day"


def test_the_wait_message_is_the_same_for_any_name_and_rounds_up() -> None:
    assert str(SignInThrottled(dt.timedelta(seconds=0.2))) == (
        "too many failed sign-in attempts: try again in 1 s"
    )
    assert SignInThrottled(dt.timedelta(seconds=1.5)).retry_after_seconds == 2


# --- per account ------------------------------------------------------------------------------


def test_an_account_gets_four_free_failures_then_waits_that_double_to_the_cap(
    store: Store, clock: Clock
) -> None:
    for _ in range(4):
        assert store.sign_in("dr.lee", WRONG) is None
    expected = 1
    for _ in range(12):
        assert _throttled_for(store, "dr.lee", WRONG) == expected
        clock.advance(expected)
        assert store.sign_in("dr.lee", WRONG) is None, "the wait is over: the password is checked"
        expected = min(expected * 2, 900)
    assert expected == 900
    assert _throttled_for(store, "dr.lee", WRONG) == 900


def test_the_right_password_during_a_wait_is_refused_without_being_checked(
    store: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(4):
        store.sign_in("dr.lee", WRONG)
    checked: list[str] = []
    real_verify = passwords.verify

    def counting_verify(encoded: str | None, password: str) -> bool:
        checked.append(password)
        return real_verify(encoded, password)

    monkeypatch.setattr(passwords, "verify", counting_verify)
    assert _throttled_for(store, "dr.lee", PASSWORD) == 1
    assert checked == [], "Argon2 was not even run"
    clock.advance(1)
    assert store.sign_in("dr.lee", PASSWORD) == User(user_id="dr.lee", role="clinician")


def test_a_success_ends_the_streak_and_the_audit_says_how_many_failed_before(
    store: Store, clock: Clock
) -> None:
    for _ in range(3):
        assert store.sign_in("dr.lee", WRONG) is None
    assert store.sign_in("dr.lee", PASSWORD) is not None
    assert store.audit_events(1)[0].detail == "local, after 3 failed attempts"
    for _ in range(4):  # four free failures again, not one
        assert store.sign_in("dr.lee", WRONG) is None
    assert _throttled_for(store, "dr.lee", WRONG) == 1


def test_an_unknown_name_backs_off_like_a_real_one(store: Store, clock: Clock) -> None:
    for name in ("dr.lee", "dr.nobody"):
        for _ in range(4):
            assert store.sign_in(name, WRONG) is None
        assert _throttled_for(store, name, WRONG) == 1, "the answer does not tell which names exist"


def test_both_spellings_of_a_name_share_one_streak_and_find_one_account(store: Store, clock: Clock) -> None:
    for name in ("dr.lee", "Dr.Lee", "DR.LEE", "dr.LEE"):
        assert store.sign_in(name, WRONG) is None
    assert _throttled_for(store, "Dr.lee", PASSWORD) == 1
    clock.advance(1)
    assert store.sign_in("DR.Lee", PASSWORD) == User(user_id="dr.lee", role="clinician")


def test_other_names_are_not_slowed_by_one_names_failures(store: Store, clock: Clock) -> None:
    for _ in range(6):
        with contextlib.suppress(SignInThrottled):
            store.sign_in("dr.lee", WRONG)
    assert store.sign_in("res.kim", PASSWORD) == User(user_id="res.kim", role="resident")


def test_a_streak_is_forgotten_an_hour_after_its_last_failure(
    store: Store, clock: Clock, raw: Engine
) -> None:
    for _ in range(6):
        clock.advance(600)  # each wait is over
        assert store.sign_in("dr.lee", WRONG) is None
    clock.advance(3601)
    for _ in range(4):
        assert store.sign_in("dr.lee", WRONG) is None, "four free failures again"
    assert _throttled_for(store, "dr.lee", WRONG) == 1


def test_a_failed_attempt_deletes_the_forgotten_rows(store: Store, clock: Clock, raw: Engine) -> None:
    store.sign_in("dr.lee", WRONG, client="192.0.2.1")
    store.sign_in("Correct-Horse-Typed-As-Name", WRONG, client="192.0.2.1")
    clock.advance(3601)
    store.sign_in("res.kim", WRONG, client="192.0.2.2")
    with raw.connect() as connection:
        left = connection.execute(text("SELECT kind, failures FROM sign_in_failures")).all()
    assert sorted(left) == [("account", 1), ("client", 1)], "only the new attempt's two rows"


def test_an_administrator_unlocks_a_name(store: Store, clock: Clock) -> None:
    for _ in range(10):
        clock.advance(600)
        store.sign_in("dr.lee", WRONG)
    assert _throttled_for(store, "dr.lee", PASSWORD) > 60
    store.forget_sign_in_failures("DR.LEE")
    assert store.sign_in("dr.lee", PASSWORD) is not None


# --- per client -------------------------------------------------------------------------------


def test_a_client_spraying_many_names_waits_after_twenty_failures(store: Store, clock: Clock) -> None:
    for n in range(20):
        assert store.sign_in(f"guess.{n}", WRONG, client="203.0.113.7") is None
    assert _throttled_for(store, "guess.new", WRONG, client="203.0.113.7") == 1
    assert _throttled_for(store, "dr.lee", PASSWORD, client="203.0.113.7") == 1, "even the right password"
    assert store.sign_in("dr.lee", PASSWORD, client="198.51.100.20") is not None, (
        "other clients are not slowed"
    )
    clock.advance(1)
    assert store.sign_in("guess.20", WRONG, client="203.0.113.7") is None
    assert _throttled_for(store, "guess.21", WRONG, client="203.0.113.7") == 2


def test_successes_on_a_shared_ward_pc_do_not_count_against_it(store: Store, clock: Clock) -> None:
    for _ in range(40):
        assert store.sign_in("res.kim", PASSWORD, client="10.1.2.3") is not None
    for n in range(19):
        assert store.sign_in(f"typo.{n}", WRONG, client="10.1.2.3") is None
    # a success does not wipe the client's failures either (one's own account cannot reset it)
    assert store.sign_in("res.kim", PASSWORD, client="10.1.2.3") is not None
    assert store.sign_in("typo.19", WRONG, client="10.1.2.3") is None
    assert _throttled_for(store, "res.kim", PASSWORD, client="10.1.2.3") == 1


# --- shared through the database --------------------------------------------------------------


def test_two_replicas_share_the_counts_through_the_database(store: Store, db_url: str, clock: Clock) -> None:
    other = Store(db_url)  # another replica: its own engine and pool on the same database
    try:
        for replica in (store, other, store, other):
            assert replica.sign_in("dr.lee", WRONG, client="192.0.2.9") is None
        assert _throttled_for(other, "dr.lee", PASSWORD) == 1
        assert _throttled_for(store, "dr.lee", PASSWORD) == 1
    finally:
        other.close()


def test_parallel_attempts_cannot_share_a_free_slot(store: Store, db_url: str, clock: Clock) -> None:
    replicas = [Store(db_url) for _ in range(2)]
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(replica: Store) -> None:
        try:
            result = "refused" if replica.sign_in("dr.lee", WRONG) is None else "signed in"
        except SignInThrottled:
            result = "throttled"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(replicas[n % 2],)) for n in range(10)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        for replica in replicas:
            replica.close()
    assert sorted(outcomes) == ["refused"] * 4 + ["throttled"] * 6, (
        "the clock stands still: one free slot each"
    )


# --- what is stored and audited ---------------------------------------------------------------


def test_neither_a_typed_name_nor_a_client_address_is_stored_in_clear(
    store: Store, clock: Clock, raw: Engine
) -> None:
    typed = "Correct-Horse-Typed-As-Name"
    store.sign_in(typed, WRONG, client="203.0.113.77")
    with raw.connect() as connection:
        rows = connection.execute(text("SELECT * FROM sign_in_failures")).all()
    assert {row.kind for row in rows} == {"account", "client"}
    dumped = repr(rows) + repr(store.audit_events())
    for secret in (typed, typed.casefold(), "203.0.113.77", WRONG):
        assert secret not in dumped
    assert all(len(row.key_sha256) == 64 for row in rows)


def test_a_guessing_streak_writes_a_few_audit_rows_not_one_per_failure(store: Store, clock: Clock) -> None:
    checked = 0
    for _ in range(720):  # an hour of a script trying every 5 seconds
        with contextlib.suppress(SignInThrottled):
            checked += store.sign_in("dr.lee", WRONG, client="203.0.113.7") is None
        clock.advance(5)
    events = [e for e in store.audit_events(500) if e.action.startswith("sign_in")][::-1]
    assert checked < 20, "only a few guesses an hour got their password checked"
    assert 2 <= len(events) <= 6, [e.detail for e in events]
    assert events[0].detail == "1 failed attempt (a new streak)"
    assert {e.action for e in events} == {"sign_in_refused"}
    assert {e.actor for e in events} == {"dr.lee"}
    assert all("refused during waits" in e.detail for e in events[1:])


def test_a_disabled_account_with_its_right_password_is_audited_each_time(store: Store, clock: Clock) -> None:
    store.set_disabled("dr.lee", True, actor="admin.ng")
    for _ in range(3):
        assert store.sign_in("dr.lee", PASSWORD) is None
    details = [e.detail for e in store.audit_events(3)]
    assert all(detail.startswith("account disabled") for detail in details)


def test_a_client_streak_is_audited_when_its_waits_begin(store: Store, clock: Clock) -> None:
    for n in range(21):
        clock.advance(2)
        store.sign_in(f"spray.{n}", WRONG, client="203.0.113.7")
    throttled = [e for e in store.audit_events(100) if e.action == "sign_in_throttled"]
    assert len(throttled) == 1
    assert throttled[0].actor == "unknown"
    assert "21 failed attempts" in throttled[0].detail
    assert "203.0.113.7" not in throttled[0].detail


def test_the_table_holds_counts_and_hashed_keys_only(raw: Engine, store: Store) -> None:
    assert "sign_in_failures" in inspect(raw).get_table_names()
    columns = {column["name"] for column in inspect(raw).get_columns("sign_in_failures")}
    assert columns == {
        "kind",
        "key_sha256",
        "failures",
        "throttled",
        "first_failure_at",
        "last_failure_at",
        "audited_at",
    }


def test_the_app_role_with_only_its_granted_privileges_backs_off_and_unlocks(
    postgres_server: PostgresServer, clock: Clock
) -> None:
    """The deployed PostgreSQL set-up: the owner migrates, the app's role gets only its grants."""
    owner_url = postgres_server.create_database()
    parsed = make_url(owner_url)
    role, password = f"app_{parsed.database}", secrets.token_urlsafe(16)
    with psycopg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database,
        autocommit=True,
    ) as connection:
        connection.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), password))
        connection.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(str(parsed.database)), sql.Identifier(role)
            )
        )
    app_url = parsed.set(username=role, password=password).render_as_string(hide_password=False)
    assert migrate_schema(owner_url, app_url).granted_to == role
    store = Store(app_url)
    try:
        store.add_account("dr.lee", "clinician", actor="admin.ng", password=PASSWORD)
        for _ in range(4):
            assert store.sign_in("dr.lee", WRONG, client="192.0.2.1") is None
        assert _throttled_for(store, "dr.lee", PASSWORD, client="192.0.2.1") == 1
        clock.advance(3601)  # forgotten
        assert store.sign_in("dr.lee", PASSWORD, client="192.0.2.1") is not None
        assert store.sign_in("res.nobody", WRONG, client="192.0.2.2") is None  # purges what is forgotten
        store.forget_sign_in_failures("res.nobody")
        assert store.verify_audit().intact
    finally:
        store.close()
    owner = make_engine(owner_url)
    with owner.connect() as connection:
        assert connection.execute(text("SELECT kind FROM sign_in_failures")).scalars().all() == ["client"]
    owner.dispose()
