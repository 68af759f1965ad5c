"""A draft URL is not a credential (issue 14): a draft belongs to the user who made it, on SQLite
and on a real PostgreSQL server. Another user's token is refused for reading, writing and
deleting; drafts expire a fixed time after their last change and are purged; the schema's owner
and expiry come from the migration."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, inspect, text

from myelo_cds.records import Store

CLINICIAN, RESIDENT = "dr.lee", "res.kim"
TOKEN = "clinician-tab-" + "a" * 18
HOURS_24 = dt.timedelta(hours=24)
NOON = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
RED_FLAGS_ANSWERED = {"case_id": "PT-0042", "red_flags": {"trauma": False}, "patient": {"age_years": 71}}


def _drafts(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        return [
            tuple(row) for row in connection.execute(text("SELECT token, owner FROM drafts ORDER BY token"))
        ]


def test_the_owner_reads_back_their_draft(store: Store) -> None:
    assert store.save_draft(TOKEN, RED_FLAGS_ANSWERED, owner=CLINICIAN)
    assert store.load_draft(TOKEN, owner=CLINICIAN) == RED_FLAGS_ANSWERED


def test_another_user_with_the_token_reads_nothing(store: Store) -> None:
    store.save_draft(TOKEN, RED_FLAGS_ANSWERED, owner=CLINICIAN)
    assert store.load_draft(TOKEN, owner=RESIDENT) is None


def test_another_user_with_the_token_cannot_overwrite_the_draft(store: Store) -> None:
    store.save_draft(TOKEN, RED_FLAGS_ANSWERED, owner=CLINICIAN)
    assert store.save_draft(TOKEN, {"red_flags": {"trauma": True}}, owner=RESIDENT) is False
    assert store.load_draft(TOKEN, owner=CLINICIAN) == RED_FLAGS_ANSWERED


def test_another_user_with_the_token_cannot_delete_the_draft(store: Store) -> None:
    store.save_draft(TOKEN, RED_FLAGS_ANSWERED, owner=CLINICIAN)
    store.delete_draft(TOKEN, owner=RESIDENT)
    assert store.load_draft(TOKEN, owner=CLINICIAN) == RED_FLAGS_ANSWERED


def test_a_planted_token_does_not_reach_the_victim(store: Store, raw: Engine) -> None:
    """A resident plants a draft with red flags answered "No" and sends the link: the clinician
    neither sees the planted answers nor writes their own into the resident's draft."""
    store.save_draft(TOKEN, RED_FLAGS_ANSWERED, owner=RESIDENT)
    assert store.load_draft(TOKEN, owner=CLINICIAN) is None
    assert (
        store.save_draft(TOKEN, {"case_id": "PT-REAL", "red_flags": {"trauma": True}}, owner=CLINICIAN)
        is False
    )
    assert store.load_draft(TOKEN, owner=RESIDENT) == RED_FLAGS_ANSWERED
    assert _drafts(raw) == [(TOKEN, RESIDENT)]


def test_an_unknown_token_reads_nothing(store: Store) -> None:
    assert store.load_draft("never-issued-" + "b" * 12, owner=CLINICIAN) is None


def test_a_draft_expires_its_lifetime_after_the_last_change(store: Store) -> None:
    store.save_draft(TOKEN, {"patient": {"age_years": 70}}, owner=CLINICIAN, now=NOON)
    later = NOON + dt.timedelta(hours=20)
    store.save_draft(TOKEN, RED_FLAGS_ANSWERED, owner=CLINICIAN, now=later)  # the change restarts it
    assert store.load_draft(TOKEN, owner=CLINICIAN, now=NOON + HOURS_24 + dt.timedelta(hours=1)) == (
        RED_FLAGS_ANSWERED
    )
    assert (
        store.load_draft(TOKEN, owner=CLINICIAN, now=later + HOURS_24 - dt.timedelta(seconds=1)) is not None
    )
    assert store.load_draft(TOKEN, owner=CLINICIAN, now=later + HOURS_24) is None


def test_the_lifetime_is_the_one_given(store: Store) -> None:
    store.save_draft(TOKEN, RED_FLAGS_ANSWERED, owner=CLINICIAN, lifetime=dt.timedelta(hours=2), now=NOON)
    assert store.load_draft(TOKEN, owner=CLINICIAN, now=NOON + dt.timedelta(minutes=119)) is not None
    assert store.load_draft(TOKEN, owner=CLINICIAN, now=NOON + dt.timedelta(hours=2)) is None


def test_purge_deletes_only_expired_drafts(store: Store, raw: Engine) -> None:
    store.save_draft(TOKEN, RED_FLAGS_ANSWERED, owner=CLINICIAN, now=NOON - dt.timedelta(hours=1))
    store.save_draft("old-draft-" + "c" * 10, {}, owner=CLINICIAN, now=NOON - dt.timedelta(hours=30))
    assert store.purge_expired_drafts(now=NOON) == 1
    assert _drafts(raw) == [(TOKEN, CLINICIAN)]


def test_a_new_draft_purges_the_expired_ones(store: Store, raw: Engine) -> None:
    store.save_draft("old-draft-" + "c" * 10, {}, owner=RESIDENT, now=NOON - dt.timedelta(hours=30))
    store.save_draft(TOKEN, RED_FLAGS_ANSWERED, owner=CLINICIAN, now=NOON)
    assert _drafts(raw) == [(TOKEN, CLINICIAN)]


def test_deleting_the_owners_draft_forgets_it(store: Store, raw: Engine) -> None:
    store.save_draft(TOKEN, RED_FLAGS_ANSWERED, owner=CLINICIAN)
    store.delete_draft(TOKEN, owner=CLINICIAN)
    assert store.load_draft(TOKEN, owner=CLINICIAN) is None
    assert _drafts(raw) == []


def test_the_drafts_table_has_owner_and_expiry_from_the_migration(store: Store, raw: Engine) -> None:
    store.purge_expired_drafts()  # the store migrates the new database on first use
    columns = {column["name"]: column for column in inspect(raw).get_columns("drafts")}
    assert set(columns) == {"token", "owner", "data", "updated_at", "expires_at"}
    assert not columns["owner"]["nullable"]
    assert not columns["expires_at"]["nullable"]
    indexed = {tuple(index["column_names"]) for index in inspect(raw).get_indexes("drafts")}
    assert {("owner",), ("expires_at",)} <= indexed
