"""SMART EHR launch in Chromium: from the test EHR's launch link to a prefilled consult.

The EHR is real servers on loopback (``tests/smart_ehr``: Medplum's FHIR router with the
patient's record in memory, Authlib's OAuth 2.0 server issuing the launch context); the app is
``asgi.py`` (pages and the launch routes on one port) with local sign-in. The browser follows
every redirect itself: EHR -> /smart/launch -> authorization -> /smart/callback -> /consult,
where the clinician must still sign in before the findings are shown. The launch state is
kept in the app's record database; the EHR's id_token names the clinician (``fhirUser``), who
becomes the author of the write-back; the patient's problem list holds a mimic (multiple
sclerosis, its code read from ``data/fhir/ehr-conditions.csv``), shown beside the findings.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from myelo_cds.records import Store
from tests.e2e.conftest import screenshot
from tests.e2e.live_app import LiveServer, free_port, live_server
from tests.e2e.script_runs import wait_until_idle
from tests.smart_ehr import CLIENT_ID, EHR_USER, EhrUnderTest, ehr_record, running_test_ehr

PASSWORD = "a long clinic passphrase"
PATIENT = "ehr-pt-20931"
ROOT = Path(__file__).resolve().parents[2]


def _multiple_sclerosis() -> dict[str, Any]:
    with (ROOT / "data" / "fhir" / "ehr-conditions.csv").open(newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["display"] == "Multiple sclerosis")
    status = "http://terminology.hl7.org/CodeSystem/condition-"
    return {
        "resourceType": "Condition",
        "id": "ms-1",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "code": {"coding": [{"system": row["system"], "code": row["code"], "display": row["display"]}]},
        "clinicalStatus": {"coding": [{"system": status + "clinical", "code": "active"}]},
        "verificationStatus": {"coding": [{"system": status + "ver-status", "code": "confirmed"}]},
        "onsetDateTime": "2019-05-02",
    }


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EhrUnderTest, LiveServer, Path]]:
    folder = tmp_path_factory.mktemp("smart-launch")
    store = Store(f"sqlite:///{folder / 'records.sqlite3'}")
    store.add_account("dr.lee", "clinician", actor="test", password=PASSWORD, display_name="Dr Lee")
    store.close()
    port = free_port()
    app_url = f"http://127.0.0.1:{port}"
    record = [*ehr_record("moderate_dcm", PATIENT), _multiple_sclerosis()]
    with running_test_ehr(app_url, record, folder) as ehr:
        env = {
            "MYELO_CDS_AUTH": "local",
            "MYELO_CDS_APP_URL": app_url,
            "MYELO_CDS_SMART_CLIENT_ID": CLIENT_ID,
            "MYELO_CDS_SMART_ISSUERS": ehr.iss,
        }
        with live_server(
            folder / "server.log", script="asgi.py", db_path=folder / "records.sqlite3", env=env, port=port
        ) as server:
            yield ehr, server, folder


def test_an_ehr_launch_opens_a_prefilled_consult_after_sign_in(
    page: Page, launched: tuple[EhrUnderTest, LiveServer, Path]
) -> None:
    ehr, server, folder = launched
    page.goto(ehr.launch_url(PATIENT))
    # The redirects ran in the browser; the URL holds no code, token or hand-off key.
    page.wait_for_url(f"{server.url}/consult")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    wait_until_idle(page)
    assert "Prefilled from the EHR" not in page.locator("body").inner_text()
    page.get_by_label("User name").fill("dr.lee")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Consult")).to_be_visible()
    notice = page.get_by_text("Prefilled from the EHR")
    expect(notice).to_be_visible()
    assert ehr.iss in notice.inner_text()
    assert "recorded 2025-03-04" in notice.inner_text()  # moderate_dcm's assessment date: from when
    # The problem list's mimic, as information beside the findings.
    problem_list = page.get_by_role("alert").filter(has_text="From the EHR's problem list")
    expect(problem_list).to_be_visible()
    assert "Multiple sclerosis" in problem_list.inner_text()
    assert "Condition/ms-1" in problem_list.inner_text()
    wait_until_idle(page)
    # The form holds the EHR's values (moderate_dcm: 58 years) and the result is computed from them.
    expect(page.locator("input[aria-label^='Age']").first).to_have_value("58")
    page.get_by_text("Fields from the EHR").click()
    listing = page.get_by_test_id("stExpanderDetails").filter(has_text="Observation/")
    expect(listing.first).to_be_visible()
    text = listing.first.inner_text()
    assert "QuestionnaireResponse/" in text  # the mJOA answers
    assert f"(Patient/{PATIENT})" in text  # the sex, from the Patient resource
    assert "code=" not in page.url
    assert "state=" not in page.url
    screenshot(page, "smart_launch_prefilled_consult")
    # On request, the findings and the consult note go back to the EHR's FHIR server.
    page.get_by_role("button", name="Write the findings and the consult note back to the EHR").click()
    expect(page.get_by_text("Written to the EHR")).to_be_visible()
    assert f"as Practitioner/{EHR_USER}" in page.get_by_text("Written to the EHR").inner_text()
    token = next(iter(ehr.auth.tokens))
    found = httpx.get(
        f"{ehr.iss}/DocumentReference?patient=Patient/{PATIENT}", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert found["total"] == 1
    assert (
        f"DocumentReference/{found['entry'][0]['resource']['id']}"
        in page.get_by_text("Written to the EHR").inner_text()
    )
    screenshot(page, "smart_launch_written_back")
    records = Store(f"sqlite:///{folder / 'records.sqlite3'}")
    events = [(event.action, event.actor) for event in records.audit_events()]
    records.close()
    assert ("ehr_import", "dr.lee") in events
    assert ("ehr_write_back", "dr.lee") in events
