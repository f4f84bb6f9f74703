"""RFC 5280 §6 path validation, one theme per test, each with certificates made for it.

The themes are the ones the x509-limbo conformance suite probes (name constraints, unknown critical
extensions, weak CA keys, AKI/SKI, basicConstraints, key usage, serials, policyConstraints, chain
depth, self-issued certificates and pathLenConstraint, CRL issuers) as of its commit 8a2e6f4
(2026-06-29); no case or generator code is copied: the certificates are our own, built here with
`cryptography`. Most chains reach the validator inside a CMS signature, the way documents reach us;
some through the public `signing.path.validate_path` call.
"""
from __future__ import annotations

import ipaddress
import warnings
from dataclasses import dataclass
from datetime import timedelta

import pytest
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from signing_pki import NOW, _ku

from signing import cms
from signing.report import Indication, SubIndication
from signing.validate import Validator

DOC = b"Ariza: uy-joy masalasi bo'yicha."
UNKNOWN = x509.ObjectIdentifier("1.3.6.1.4.1.55555.1")


@dataclass
class Node:
    key: object
    cert: x509.Certificate


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "UZ"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make(
    cn: str | x509.Name,
    issuer: Node | None = None,
    *,
    key: object | None = None,
    ca: bool = True,
    path_length: int | None = None,
    bc: bool | None = True,  #: True: critical, False: non-critical, None: absent
    ski: bool | None = False,  #: False: non-critical, True: critical, None: absent
    aki: bool | None = False,
    ku: x509.KeyUsage | None | bool = True,  #: True: the usual for CA / signer, None: absent
    extra: tuple[tuple[x509.ExtensionType, bool], ...] = (),
    serial: int | None = None,
    issuer_name: x509.Name | None = None,
) -> Node:
    """One certificate with exactly the extensions a theme needs (defaults: a well-formed CA)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = cn if isinstance(cn, x509.Name) else _name(cn)
    pub = key.public_key()
    signer = issuer.key if issuer else key
    b = (x509.CertificateBuilder().subject_name(subject)
         .issuer_name(issuer_name or (issuer.cert.subject if issuer else subject))
         .public_key(pub).serial_number(serial or x509.random_serial_number())
         .not_valid_before(NOW - timedelta(days=30)).not_valid_after(NOW + timedelta(days=300)))
    if bc is not None:
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=bc)
    if ski is not None:
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=ski)
    if aki is not None and issuer is not None:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=aki)
    if ku is True:
        ku = _ku(key_cert_sign=True, crl_sign=True) if ca else _ku(digital_signature=True, content_commitment=True)
    if ku is not None:
        b = b.add_extension(ku, critical=True)
    for value, critical in extra:
        b = b.add_extension(value, critical=critical)
    algo = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return Node(key, b.sign(signer, algo))


def leaf(issuer: Node, cn: str = "ALIYEV VALI", **kw: object) -> Node:
    return make(cn, issuer, ca=False, **kw)


def check(chain: list[Node], *, roots: list[Node] | None = None, **kw: object):
    """Validate a signature by chain[0] (leaf first, root last) against roots (default: chain[-1])."""
    roots = roots if roots is not None else [chain[-1]]
    sig = cms.sign(DOC, cms.Signer(chain[0].key, chain[0].cert, [n.cert for n in chain[1:-1]]), detached=True)
    validator = Validator([r.cert for r in roots], require_revocation=False, **kw)
    return validator.validate(sig, DOC).signers[0]


def accepted(chain: list[Node], **kw: object) -> bool:
    rep = check(chain, **kw)
    return rep.indication is Indication.TOTAL_PASSED


def nc(permitted: list[x509.GeneralName] | None = None, excluded: list[x509.GeneralName] | None = None,
       critical: bool = True) -> tuple[tuple[x509.ExtensionType, bool], ...]:
    return ((x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=excluded), critical),)


def san(*names: x509.GeneralName) -> tuple[tuple[x509.ExtensionType, bool], ...]:
    return ((x509.SubjectAlternativeName(list(names)), False),)


def test_a_well_formed_chain_passes():
    root = make("Root")
    ica = make("ICA", root)
    assert accepted([leaf(ica), ica, root])


# --- name constraints (RFC 5280 4.2.1.10, 6.1.3(b)(c), 6.1.4(g)) -----------------------------------------

def test_permitted_dns_name_constraint_is_enforced():
    root = make("Root", extra=nc([x509.DNSName("example.com")]))
    assert accepted([leaf(root, extra=san(x509.DNSName("sub.example.com"))), root])
    assert not accepted([leaf(root, extra=san(x509.DNSName("not-example.com"))), root])
    assert not accepted([leaf(root, extra=san(x509.DNSName("badexample.com"))), root])


def test_excluded_dns_name_wins_over_permitted():
    root = make("Root", extra=nc([x509.DNSName("example.com")], [x509.DNSName("bad.example.com")]))
    assert not accepted([leaf(root, extra=san(x509.DNSName("x.bad.example.com"))), root])


def test_ip_name_constraints():
    net = x509.IPAddress(ipaddress.ip_network("192.0.2.0/24"))
    root = make("Root", extra=nc([net]))
    assert accepted([leaf(root, extra=san(x509.IPAddress(ipaddress.ip_address("192.0.2.7")))), root])
    assert not accepted([leaf(root, extra=san(x509.IPAddress(ipaddress.ip_address("192.0.3.7")))), root])
    root6 = make("Root6", extra=nc(None, [x509.IPAddress(ipaddress.ip_network("::1/128"))]))
    assert not accepted([leaf(root6, extra=san(x509.IPAddress(ipaddress.ip_address("::1")))), root6])


def test_directory_name_constraints_apply_to_subject_and_san():
    allowed = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "UZ"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Yagona")])
    root = make("Root", extra=nc([x509.DirectoryName(allowed)]))
    inside = x509.Name(list(allowed) + [x509.NameAttribute(NameOID.COMMON_NAME, "ALIYEV VALI")])
    assert accepted([make(inside, root, ca=False), root])
    assert not accepted([leaf(root), root])  # C=UZ, CN=… is outside O=Yagona
    outside_san = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ")])
    assert not accepted([make(inside, root, ca=False, extra=san(x509.DirectoryName(outside_san))), root])
    excl = make("Root2", extra=nc(None, [x509.DirectoryName(allowed)]))
    assert not accepted([make(inside, excl, ca=False), excl])


def test_email_name_constraints():
    root = make("Root", extra=nc([x509.RFC822Name("gov.uz")]))
    assert accepted([leaf(root, extra=san(x509.RFC822Name("vali@gov.uz"))), root])
    assert not accepted([leaf(root, extra=san(x509.RFC822Name("vali@mail.gov.uz"))), root])
    sub = make("Root2", extra=nc([x509.RFC822Name(".gov.uz")]))
    assert accepted([leaf(sub, extra=san(x509.RFC822Name("vali@mail.gov.uz"))), sub])
    assert not accepted([leaf(sub, extra=san(x509.RFC822Name("vali@gov.uz"))), sub])
    box = make("Root3", extra=nc([x509.RFC822Name("vali@gov.uz")]))
    assert not accepted([leaf(box, extra=san(x509.RFC822Name("nodira@gov.uz"))), box])


def test_name_constraints_narrow_across_intermediates_and_never_widen():
    root = make("Root", extra=nc([x509.DNSName("example.com")]))
    narrow = make("ICA", root, extra=nc([x509.DNSName("a.example.com")]))
    assert accepted([leaf(narrow, extra=san(x509.DNSName("x.a.example.com"))), narrow, root])
    assert not accepted([leaf(narrow, extra=san(x509.DNSName("b.example.com"))), narrow, root])
    wide = make("ICA2", root, extra=nc([x509.DNSName("example.org")]))
    assert not accepted([leaf(wide, extra=san(x509.DNSName("www.example.org"))), wide, root])


def test_an_intermediate_outside_the_roots_constraints_is_refused():
    root = make("Root", extra=nc([x509.DNSName("example.com")]))
    ica = make("ICA", root, extra=san(x509.DNSName("evil.org")))
    assert not accepted([leaf(ica, extra=san(x509.DNSName("a.example.com"))), ica, root])


def test_name_constraints_must_be_critical_and_only_in_cas():
    root = make("Root", extra=nc([x509.DNSName("example.com")], critical=False))
    assert not accepted([leaf(root, extra=san(x509.DNSName("example.com"))), root])
    root2 = make("Root2")
    assert not accepted([leaf(root2, extra=nc([x509.DNSName("example.com")])), root2])


def test_a_name_of_a_constrained_type_we_cannot_check_is_refused():
    other = x509.OtherName(x509.ObjectIdentifier("1.3.6.1.4.1.55555.2"), b"\x0c\x03abc")
    root = make("Root", extra=nc(None, [other]))
    assert not accepted([leaf(root, extra=san(other)), root])
    assert accepted([leaf(root, extra=san(x509.DNSName("example.com"))), root])


def test_self_issued_intermediates_skip_name_constraints_but_the_leaf_does_not():
    root = make("Root", extra=nc([x509.DNSName("example.com")]))
    ica = make("Root", root, extra=san(x509.DNSName("not-example.com")))  # key rollover: same name
    assert accepted([leaf(ica, extra=san(x509.DNSName("example.com"))), ica, root])


# --- extensions, keys and identifiers ------------------------------------------------------------------

@pytest.mark.parametrize("where", ["root", "intermediate", "leaf"])
def test_unknown_critical_extension_is_refused(where):
    odd = ((x509.UnrecognizedExtension(UNKNOWN, b"\x05\x00"), True),)
    root = make("Root", extra=odd if where == "root" else ())
    ica = make("ICA", root, extra=odd if where == "intermediate" else ())
    assert not accepted([leaf(ica, extra=odd if where == "leaf" else ()), ica, root])


def test_unknown_non_critical_extension_is_fine():
    root = make("Root", extra=((x509.UnrecognizedExtension(UNKNOWN, b"\x05\x00"), False),))
    assert accepted([leaf(root), root])


@pytest.mark.parametrize("kind", ["rsa1024", "p192", "dsa"])
def test_weak_ca_keys_are_refused(kind):
    key = {
        "rsa1024": lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),
        "p192": lambda: ec.generate_private_key(ec.SECP192R1()),
        "dsa": lambda: dsa.generate_private_key(key_size=1024),
    }[kind]()
    root = make("Root")
    ica = make("Weak ICA", root, key=key)
    rep = check([leaf(ica), ica, root])
    assert rep.indication is not Indication.TOTAL_PASSED
    assert "key" in " ".join(rep.errors)


def test_weak_root_key_is_refused():
    root = make("Root", key=rsa.generate_private_key(public_exponent=65537, key_size=1024))
    assert not accepted([leaf(root), root])


def test_ed25519_chain_passes_and_stays_strict():
    root = make("Root", key=ed25519.Ed25519PrivateKey.generate())
    ica = make("ICA", root, key=ed25519.Ed25519PrivateKey.generate())
    assert accepted([leaf(ica, key=ed25519.Ed25519PrivateKey.generate()), ica, root])
    odd = make("ICA2", root, key=ed25519.Ed25519PrivateKey.generate(),
               extra=((x509.UnrecognizedExtension(UNKNOWN, b"\x05\x00"), True),))
    assert not accepted([leaf(odd), odd, root])


def test_key_identifier_rules():
    root = make("Root")
    assert not accepted([leaf(root, aki=None), root]), "a leaf without AKI"
    ica = make("ICA", root, aki=None)
    assert not accepted([leaf(ica), ica, root]), "an intermediate without AKI"
    no_ski = make("ICA", root, ski=None)
    assert not accepted([leaf(no_ski), no_ski, root]), "a CA without SKI"
    root_no_ski = make("Root3", ski=None)
    assert not accepted([leaf(root_no_ski), root_no_ski]), "a root without SKI"
    root_crit = make("Root4", ski=True)
    assert not accepted([leaf(root_crit), root_crit]), "a critical SKI"
    assert not accepted([leaf(root, aki=True), root]), "a critical AKI"


def test_basic_constraints_and_key_usage_consistency():
    assert not accepted([leaf(r := make("Root", bc=False)), r]), "a root with non-critical basicConstraints"
    assert not accepted([leaf(r := make("Root", bc=None)), r]), "a root without basicConstraints"
    root = make("Root")
    assert not accepted([leaf(root, ku=_ku(digital_signature=True, key_cert_sign=True)), root]), \
        "keyCertSign on an end-entity"
    inconsistent = make("Root2", ku=_ku(digital_signature=True, crl_sign=True))
    assert not accepted([leaf(inconsistent), inconsistent]), "a CA without keyCertSign"


def _reserial(node: Node, issuer: Node, serial: int) -> Node:
    """*node* with a serial `cryptography`'s builder refuses (over 159 bits), re-signed by *issuer*."""
    cert = a_x509.Certificate.load(node.cert.public_bytes(serialization.Encoding.DER))
    tbs = cert["tbs_certificate"]
    tbs["serial_number"] = serial
    tbs_der = tbs.dump(force=True)
    sig = issuer.key.sign(tbs_der, ec.ECDSA(hashes.SHA256()))
    out = a_x509.Certificate({"tbs_certificate": a_x509.TbsCertificate.load(tbs_der),
                              "signature_algorithm": cert["signature_algorithm"], "signature_value": sig})
    return Node(node.key, x509.load_der_x509_certificate(out.dump()))


def test_serial_numbers_over_20_octets_are_refused():
    root = make("Root")
    assert accepted([_reserial(leaf(root), root, 1 << 151), root])  # 20 octets with the sign bit
    assert not accepted([_reserial(leaf(root), root, 1 << 167), root])  # 21 octets
    big = _reserial(make("ICA", root), root, 1 << 167)
    assert not accepted([leaf(big), big, root])


def test_policy_constraints_must_be_critical():
    root = make("Root")
    pc = x509.PolicyConstraints(require_explicit_policy=None, inhibit_policy_mapping=0)
    ica = make("ICA", root, extra=((pc, False),))
    assert not accepted([leaf(ica), ica, root])


# --- path length and depth -------------------------------------------------------------------------------

def test_self_issued_intermediates_do_not_count_against_path_length():
    root = make("Root", path_length=0)
    rollover = make("Root", root, key=ec.generate_private_key(ec.SECP256R1()))  # self-issued, new key
    assert accepted([leaf(rollover), rollover, root])
    other = make("Other ICA", root)
    assert not accepted([leaf(other), other, root])


def test_a_caller_sets_the_maximum_chain_depth():
    from signing.path import validate_path

    root = make("Root")
    ica = make("ICA", root)
    ica2 = make("ICA2", ica)
    chain = [leaf(ica2), ica2, ica, root]
    assert accepted(chain)
    assert accepted(chain, max_chain_depth=2)
    assert not accepted(chain, max_chain_depth=1)
    report = validate_path(chain[0].cert, [ica2.cert, ica.cert], trust_roots=[root.cert], at=NOW,
                           require_revocation=False, max_depth=1)
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE
    ok = validate_path(chain[0].cert, [ica2.cert, ica.cert], trust_roots=[root.cert], at=NOW,
                       require_revocation=False)
    assert ok.passed and len(ok.chain) == 4


# --- revocation lists (RFC 5280 5.2.3, 6.3.3) -----------------------------------------------------------

def _crl(issuer: Node, *, number: bool = True) -> x509.CertificateRevocationList:
    b = (x509.CertificateRevocationListBuilder().issuer_name(issuer.cert.subject)
         .last_update(NOW - timedelta(hours=1)).next_update(NOW + timedelta(days=1)))
    if number:
        b = b.add_extension(x509.CRLNumber(1), critical=False)
    return b.sign(issuer.key, hashes.SHA256())


def test_a_crl_is_only_used_with_a_crl_number_and_a_crl_signing_issuer():
    root = make("Root")
    ok = leaf(root)
    assert check([ok, root], crls=[_crl(root)]).indication is Indication.TOTAL_PASSED  # require_revocation off
    strict = lambda crl, r=root: Validator([r.cert], crls=[crl]).validate(  # noqa: E731
        cms.sign(DOC, cms.Signer(ok.key, ok.cert), detached=True), DOC).signers[0]
    assert strict(_crl(root)).passed
    assert strict(_crl(root, number=False)).sub_indication is SubIndication.TRY_LATER
    no_crl_sign = make("Root2", ku=_ku(key_cert_sign=True))
    other = leaf(no_crl_sign)
    rep = Validator([no_crl_sign.cert], crls=[_crl(no_crl_sign)]).validate(
        cms.sign(DOC, cms.Signer(other.key, other.cert), detached=True), DOC).signers[0]
    assert rep.sub_indication is SubIndication.TRY_LATER


# --- trust anchors --------------------------------------------------------------------------------------

def test_a_trust_anchor_cryptography_refuses_is_a_clear_error():
    root = make("Root", serial=0x7F)
    raw = bytearray(root.cert.public_bytes(serialization.Encoding.DER))
    at = raw.index(b"\x02\x01\x7f", 8)
    raw[at + 2] = 0xFF  # serial -1: cryptography only tolerates it with a deprecation warning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bad = x509.load_der_x509_certificate(bytes(raw))
    with pytest.raises(ValueError, match="trust anchor"):
        Validator([bad])


# --- names in the certificates themselves (RFC 5280 4.2.1.6) and constraint syntax (4.2.1.10) -----------

def test_san_dns_names_must_be_dns_names():
    root = make("Root")
    assert accepted([leaf(root, extra=san(x509.DNSName("imzo.gov.uz"))), root])
    assert not accepted([leaf(root, extra=san(x509.DNSName("bad_name.gov.uz"))), root])
    assert not accepted([leaf(root, extra=san(x509.DNSName("192.0.2.1"))), root])


def test_an_empty_subject_needs_a_critical_san():
    root = make("Root")
    empty = x509.Name([])
    assert not accepted([make(empty, root, ca=False, extra=san(x509.RFC822Name("vali@gov.uz"))), root])
    crit = ((x509.SubjectAlternativeName([x509.RFC822Name("vali@gov.uz")]), True),)
    assert accepted([make(empty, root, ca=False, extra=crit), root])


def test_a_dns_name_constraint_with_a_leading_period_is_malformed():
    root = make("Root", extra=nc([x509.DNSName(".example.com")]))
    assert not accepted([leaf(root, extra=san(x509.DNSName("a.example.com"))), root])


def test_validity_is_compared_at_the_second_rfc_5280_encodes():
    from signing.path import validate_path

    root = make("Root")
    node = leaf(root)
    end = node.cert.not_valid_after_utc
    inside = validate_path(node.cert, trust_roots=[root.cert], at=end + timedelta(milliseconds=5),
                           require_revocation=False)
    assert inside.passed, inside.errors
    after = validate_path(node.cert, trust_roots=[root.cert], at=end + timedelta(seconds=1),
                          require_revocation=False)
    assert not after.passed


def test_a_trust_anchor_need_not_carry_an_authority_key_identifier():
    """§6.1.1(d): an anchor is its name and key; a cross-signed root trusted directly still anchors."""
    other = make("Other Root")
    anchor = make("Root A", other, aki=None)
    assert accepted([leaf(anchor), anchor], roots=[anchor])


def test_an_ec_key_with_explicit_curve_parameters_is_refused():
    """RFC 5480 2.1.1: named curves only; spelt-out parameters let a CA pick its own (weak) curve."""
    from asn1crypto import keys as a_keys

    root = make("Root")
    ica = make("ICA", root)
    p = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
    gx = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
    gy = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5
    curve = a_keys.SpecifiedECDomain({
        "version": "ecdpVer1",
        "field_id": {"field_type": "prime_field", "parameters": p},
        "curve": {"a": (p - 3).to_bytes(32, "big"),
                  "b": bytes.fromhex("5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b")},
        "base": b"\x04" + gx.to_bytes(32, "big") + gy.to_bytes(32, "big"),
        "order": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
        "cofactor": 1,
    })
    cert = a_x509.Certificate.load(ica.cert.public_bytes(serialization.Encoding.DER))
    tbs = cert["tbs_certificate"]
    spki = tbs["subject_public_key_info"]
    tbs["subject_public_key_info"] = a_keys.PublicKeyInfo({
        "algorithm": {"algorithm": "ec", "parameters": a_keys.ECDomainParameters(name="specified", value=curve)},
        "public_key": spki["public_key"]})
    tbs_der = tbs.dump(force=True)
    sig = root.key.sign(tbs_der, ec.ECDSA(hashes.SHA256()))
    explicit = x509.load_der_x509_certificate(a_x509.Certificate({
        "tbs_certificate": a_x509.TbsCertificate.load(tbs_der), "signature_algorithm": cert["signature_algorithm"],
        "signature_value": sig}).dump())
    rep = check([leaf(ica), Node(ica.key, explicit), root])
    assert rep.indication is not Indication.TOTAL_PASSED
    assert "explicit curve" in " ".join(rep.errors)


# --- revocation sources: a delegated OCSP responder is held to the same certificate rules --------------

def test_a_delegated_ocsp_responder_with_an_unknown_critical_extension_is_not_trusted():
    from cryptography.x509 import ocsp
    from cryptography.x509.oid import ExtendedKeyUsageOID

    root = make("Root")
    signer = leaf(root)
    sig = cms.sign(DOC, cms.Signer(signer.key, signer.cert), detached=True)

    def responder(*extra):
        return make("OCSP", root, ca=False, ku=_ku(digital_signature=True),
                    extra=((x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False), *extra))

    def fetcher(resp_node):
        def fetch(request_der: bytes, url: str | None) -> bytes:
            b = (ocsp.OCSPResponseBuilder()
                 .add_response(cert=signer.cert, issuer=root.cert, algorithm=hashes.SHA1(),
                               cert_status=ocsp.OCSPCertStatus.GOOD, this_update=NOW - timedelta(minutes=1),
                               next_update=NOW + timedelta(hours=1), revocation_time=None, revocation_reason=None)
                 .responder_id(ocsp.OCSPResponderEncoding.HASH, resp_node.cert).certificates([resp_node.cert]))
            return b.sign(resp_node.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        return fetch

    good = Validator([root.cert], ocsp_fetcher=fetcher(responder())).validate(sig, DOC).signers[0]
    assert good.passed, good.errors
    odd = responder((x509.UnrecognizedExtension(UNKNOWN, b"\x05\x00"), True))
    rep = Validator([root.cert], ocsp_fetcher=fetcher(odd)).validate(sig, DOC).signers[0]
    assert rep.sub_indication is SubIndication.TRY_LATER


def test_names_times_constraints_beyond_the_limit_are_refused_not_ground_through():
    """RFC 5280 checks every name against every subtree: 600 SANs under 600 constraints is 360,000 checks
    per path, and a hostile signature can offer many paths; past MAX_NAME_CHECKS we refuse."""
    from signing.path import MAX_NAME_CHECKS

    permitted = [x509.DNSName(f"d{i}.example.com") for i in range(600)]
    root = make("Root", extra=nc(permitted))
    many = leaf(root, extra=san(*[x509.DNSName(f"h{i}.d599.example.com") for i in range(600)]))
    assert 600 * 600 > MAX_NAME_CHECKS
    rep = check([many, root])
    assert rep.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE
    assert "too many" in " ".join(rep.errors)
