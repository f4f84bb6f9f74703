"""Legal entities: an employee certificate's login records (and refreshes) the organisation the person
represents; portals see the person's organisations under the `legal_entities` scope only, with
consent, as `legal_entities` and in OneID's `legal_info` shape; and a login made with an employee
certificate puts that organisation's TIN in the tokens as `pkcs_legal_tin`."""
from __future__ import annotations

import secrets
import threading
from urllib.parse import urlencode

import pytest
from sqlalchemy import select, update

from esign_helpers import EsignCA, random_pinfl, random_tin
from idp import challenges, legal
from idp.legal import LegalEntityError
from idp.clients import get_client
from idp.models import Grant, LoginSession, Person, PersonOrganisation, utcnow
from idp.tokens import Subject
from idp_helpers import query_of

SCOPES = ["openid", "profile", "pinfl", "legal_entities"]


@pytest.fixture(scope="module")
def esign(tmp_path_factory) -> EsignCA:
    return EsignCA.make(tmp_path_factory.mktemp("esign-ca"))


def signed_login(svc, esign: EsignCA, holder) -> challenges.SignedLogin:
    binding = secrets.token_urlsafe(16)
    with svc.db.session() as s:
        challenge = challenges.issue(s, binding)
    with svc.db.session() as s:
        return challenges.verify(s, binding, holder.sign(challenge), esign.services)


def link(svc, person_id: int, login: challenges.SignedLogin):
    with svc.db.session() as s:
        row = legal.link_from_certificate(s, s.get(Person, person_id), login)
        return None if row is None else (row.tin, row.name, row.role, row.is_basic)


def organisations(svc, person_id: int) -> list[tuple]:
    with svc.db.session() as s:
        rows = s.scalars(select(PersonOrganisation).where(PersonOrganisation.person_id == person_id)
                         .order_by(PersonOrganisation.id))
        return [(o.tin, o.name, o.role, o.is_basic) for o in rows]


@pytest.fixture()
def person(make_account):
    pinfl = random_pinfl()
    return make_account(first_name="Alisher", last_name="Valiyev", pinfl=pinfl), pinfl


# ------------------------------------------------------------------------------- recording
def test_an_employee_certificate_login_records_the_organisation(svc, esign, person):
    account, pinfl = person
    tin = random_tin()
    login = signed_login(svc, esign, esign.employee(pinfl=pinfl, tin=tin))
    assert link(svc, account.person_id, login) == (tin, "Toshkent shahar hokimligi", "direktor", True)
    assert organisations(svc, account.person_id) == [(tin, "Toshkent shahar hokimligi", "direktor", True)]


def test_a_later_certificate_refreshes_the_link_and_a_second_organisation_is_not_basic(svc, esign, person):
    account, pinfl = person
    first, second = random_tin(), random_tin()
    link(svc, account.person_id, signed_login(svc, esign, esign.employee(pinfl=pinfl, tin=first)))
    renewed = esign.employee(pinfl=pinfl, tin=first, O="Toshkent shahar hokimligi apparati", T="bosh hisobchi")
    link(svc, account.person_id, signed_login(svc, esign, renewed))
    link(svc, account.person_id, signed_login(svc, esign, esign.employee(pinfl=pinfl, tin=second, O="Yagona MChJ")))
    assert organisations(svc, account.person_id) == [
        (first, "Toshkent shahar hokimligi apparati", "bosh hisobchi", True),
        (second, "Yagona MChJ", "direktor", False),
    ]
    with svc.db.session() as s:
        row = s.scalar(select(PersonOrganisation).where(PersonOrganisation.tin == first))
        assert row.certificate_fingerprint == renewed.fingerprint


def test_racing_logins_with_one_certificate_record_one_link(svc, esign, person):
    account, pinfl = person
    login = signed_login(svc, esign, esign.employee(pinfl=pinfl))
    barrier, errors = threading.Barrier(4), []

    def record() -> None:
        try:
            with svc.db.session() as s:
                person_row = s.get(Person, account.person_id)
                barrier.wait()
                legal.link_from_certificate(s, person_row, login)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=record) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and len(organisations(svc, account.person_id)) == 1


def test_a_citizen_certificate_links_nothing(svc, esign, person):
    account, pinfl = person
    assert link(svc, account.person_id, signed_login(svc, esign, esign.citizen(pinfl=pinfl))) is None
    assert organisations(svc, account.person_id) == []


def test_another_persons_certificate_is_refused_and_records_nothing(svc, esign, person):
    account, _pinfl = person
    login = signed_login(svc, esign, esign.employee(pinfl=random_pinfl()))
    with pytest.raises(LegalEntityError, match="PINFL"):
        link(svc, account.person_id, login)
    assert organisations(svc, account.person_id) == []


# ------------------------------------------------------------------------------- claims
def _code_flow(browser, portal, account, scope: str, decision: str = "allow") -> tuple[str, object]:
    """The consent page's text (English) and the response after the decision."""
    params, verifier = browser.authorize_params(portal, scope=scope, ui_locales="en")
    resp = browser.get("/authorize?" + urlencode(params))
    resp = browser.login(account, resp.location)
    resp = browser.get(resp.location)
    assert resp.status_code == 200 and "/authorize/consent" in resp.text, resp.text[:300]
    page = resp.text
    resp = browser.consent(page, decision)
    assert resp.status_code == 302
    if decision != "allow":
        return page, query_of(resp.location)
    q = query_of(resp.location)
    tokens = browser.token(portal, {"grant_type": "authorization_code", "code": q["code"],
                                    "redirect_uri": portal.redirect_uri, "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.json
    return page, tokens.json


def _userinfo(browser, tokens: dict) -> dict:
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200, info.json
    return info.json


def test_legal_entities_are_released_under_their_scope_with_consent(svc, esign, person, make_portal, browser):
    account, pinfl = person
    tin = random_tin()
    link(svc, account.person_id, signed_login(svc, esign, esign.employee(pinfl=pinfl, tin=tin, O="Yagona MChJ")))
    page, tokens = _code_flow(browser, make_portal(scopes=SCOPES), account, "openid legal_entities")
    assert "Organisations you represent" in page
    info = _userinfo(browser, tokens)
    assert info["legal_entities"] == [{"tin": tin, "name": "Yagona MChJ", "role": "direktor", "is_basic": True}]
    assert info["legal_info"] == [{"is_basic": True, "tin": tin, "acron_UZ": "Yagona MChJ", "le_tin": tin,
                                   "le_name": "Yagona MChJ"}]


def test_without_the_scope_no_organisation_is_released(svc, esign, person, make_portal, browser):
    account, pinfl = person
    link(svc, account.person_id, signed_login(svc, esign, esign.employee(pinfl=pinfl)))
    page, tokens = _code_flow(browser, make_portal(scopes=SCOPES), account, "openid profile pinfl")
    assert "Organisations you represent" not in page
    info = _userinfo(browser, tokens)
    assert info["pinfl"] == pinfl and "legal_entities" not in info and "legal_info" not in info


def test_refused_consent_releases_nothing(svc, esign, person, make_portal, browser):
    account, pinfl = person
    link(svc, account.person_id, signed_login(svc, esign, esign.employee(pinfl=pinfl)))
    _page, answer = _code_flow(browser, make_portal(scopes=SCOPES), account, "openid legal_entities", "deny")
    assert answer["error"] == "access_denied" and "code" not in answer


def test_a_person_representing_no_organisation_gets_no_legal_claims(person, make_portal, browser):
    account, _pinfl = person
    _page, tokens = _code_flow(browser, make_portal(scopes=SCOPES), account, "openid legal_entities")
    info = _userinfo(browser, tokens)
    assert "legal_entities" not in info and "legal_info" not in info


def test_a_portal_not_registered_for_the_scope_cannot_ask_for_it(person, make_portal, browser):
    params, _ = browser.authorize_params(make_portal(), scope="openid legal_entities")
    resp = browser.get("/authorize?" + urlencode(params))
    assert resp.status_code == 302 and query_of(resp.location)["error"] == "invalid_scope"


# ------------------------------------------------------------------------------- the login's organisation
def test_a_grant_made_for_an_organisation_puts_its_tin_in_the_tokens_and_keeps_it_on_refresh(
        svc, make_portal, person, browser):
    account, _pinfl = person
    portal = make_portal(scopes=SCOPES)
    tin = random_tin()
    with svc.db.session() as s:
        client = get_client(s, portal.client_id)
        grant = svc.tokens.new_grant(s, client_id=portal.client_id, person_id=account.person_id, session_sid=None,
                                     scope="openid", acr="high", amr=["hwk"], auth_time=utcnow(), org_tin=tin)
        tokens = svc.tokens.issue_tokens(s, client, grant, Subject(account.public_id))
    id_claims = svc.keys.verify(tokens["id_token"], typ=None, audience=portal.client_id, issuer=svc.settings.issuer)
    access = svc.keys.verify(tokens["access_token"], typ="at+jwt", audience=svc.settings.issuer,
                             issuer=svc.settings.issuer)
    assert id_claims["pkcs_legal_tin"] == tin and access["pkcs_legal_tin"] == tin
    refreshed = browser.token(portal, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.json
    again = svc.keys.verify(refreshed.json["id_token"], typ=None, audience=portal.client_id,
                            issuer=svc.settings.issuer)
    assert again["pkcs_legal_tin"] == tin


def test_a_login_for_an_organisation_reaches_the_portal_and_a_personal_login_does_not(
        svc, make_portal, person, browser):
    account, _pinfl = person
    portal = make_portal(scopes=SCOPES)
    _page, personal = _code_flow(browser, portal, account, "openid")
    claims = svc.keys.verify(personal["id_token"], typ=None, audience=portal.client_id, issuer=svc.settings.issuer)
    assert "pkcs_legal_tin" not in claims
    # the e-signature method starts its session with the employee certificate's TIN
    # (finish_login(..., org_tin=login.tin)); here the password session is marked so
    tin = random_tin()
    with svc.db.session() as s:
        s.execute(update(LoginSession).where(LoginSession.person_id == account.person_id,
                                             LoginSession.ended_at.is_(None)).values(org_tin=tin))
    params, verifier = browser.authorize_params(portal, scope="openid")
    resp = browser.get("/authorize?" + urlencode(params))
    assert resp.status_code == 302 and resp.location.startswith(portal.redirect_uri), resp.location
    q = query_of(resp.location)
    tokens = browser.token(portal, {"grant_type": "authorization_code", "code": q["code"],
                                    "redirect_uri": portal.redirect_uri, "code_verifier": verifier}).json
    claims = svc.keys.verify(tokens["id_token"], typ=None, audience=portal.client_id, issuer=svc.settings.issuer)
    assert claims["pkcs_legal_tin"] == tin
    with svc.db.session() as s:
        assert s.scalar(select(Grant.org_tin).where(Grant.person_id == account.person_id,
                                                    Grant.org_tin.is_not(None))) == tin


def test_discovery_names_the_scope_and_its_claims(browser):
    meta = browser.get("/.well-known/openid-configuration").json
    assert "legal_entities" in meta["scopes_supported"]
    assert {"legal_entities", "legal_info", "pkcs_legal_tin"} <= set(meta["claims_supported"])
