"""Object identifiers Uzbek certificates, CMS, RFC 3161 and our own PKI use, in one place.

Every module of `signing` takes its OIDs from here; `keystore` keeps its own two (PINFL, TIN)
because it may not import `signing`.

The two national subject attributes come from the E-IMZO field table (qo0p/e-imzo-doc README,
"1.2.860.3.16.1.2 = PINFL", "1.2.860.3.16.1.1 = TIN of a legal entity"; absent for private
persons). The TSA policy is the one E-IMZO's server reports (1.2.860.3.2.11.1).
"""
from __future__ import annotations

from cryptography import x509
from cryptography.x509 import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

#: PINFL: the 14-digit personal identification number of a natural person.
PINFL = ObjectIdentifier("1.2.860.3.16.1.2")
#: TIN (INN/STIR) of the legal entity an employee acts for: 9 digits.
TIN = ObjectIdentifier("1.2.860.3.16.1.1")
#: Default policy of our timestamp authority (the one E-IMZO's TSA reports).
TSA_POLICY = "1.2.860.3.2.11.1"

# --- CMS (RFC 5652) content types and attributes, RFC 3161/5816 ----------------------------------------
DATA = "1.2.840.113549.1.7.1"  #: id-data, the content type of a plain document
SIGNED_DATA = "1.2.840.113549.1.7.2"
TST_INFO = "1.2.840.113549.1.9.16.1.4"  #: id-ct-TSTInfo, the content of an RFC 3161 timestamp token
ATTR_CONTENT_TYPE = "1.2.840.113549.1.9.3"
ATTR_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
ATTR_SIGNING_TIME = "1.2.840.113549.1.9.5"
ATTR_SIGNING_CERT = "1.2.840.113549.1.9.16.2.12"  #: ESS signing-certificate (v1, SHA-1)
ATTR_SIGNING_CERT_V2 = "1.2.840.113549.1.9.16.2.47"  #: ESS signing-certificate-v2 (RFC 5035)
ATTR_SIGNATURE_TIMESTAMP = "1.2.840.113549.1.9.16.2.14"  #: id-aa-signatureTimeStampToken

# --- OCSP (RFC 6960, RFC 8954) -------------------------------------------------------------------------
OCSP_BASIC = "1.3.6.1.5.5.7.48.1.1"  #: id-pkix-ocsp-basic, the response type we answer with
OCSP_NONCE = "1.3.6.1.5.5.7.48.1.2"  #: id-pkix-ocsp-nonce

# --- digests and signature algorithms ------------------------------------------------------------------
#: Digest OIDs by name; the first three are the ones we sign with (RFC 5754)
DIGESTS = {
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
    "sha224": "2.16.840.1.101.3.4.2.4",
    "sha1": "1.3.14.3.2.26",
    "md5": "1.2.840.113549.2.5",
}
SIGNING_DIGESTS = ("sha256", "sha384", "sha512")
DIGEST_NAMES = {oid: name for name, oid in DIGESTS.items()}
ECDSA_SHA256 = "1.2.840.10045.4.3.2"
ED25519 = "1.3.101.112"
ED448 = "1.3.101.113"
RSA_PSS = "1.2.840.113549.1.1.10"
#: The hash an ECDSA / RSA PKCS#1 v1.5 signature algorithm OID fixes
ECDSA_HASH = {ECDSA_SHA256: "sha256", "1.2.840.10045.4.3.3": "sha384", "1.2.840.10045.4.3.4": "sha512"}
RSA_PKCS1_HASH = {"1.2.840.113549.1.1.11": "sha256", "1.2.840.113549.1.1.12": "sha384",
                  "1.2.840.113549.1.1.13": "sha512"}
#: How signature algorithms are named in reports
SIGNATURE_NAMES = {
    ECDSA_SHA256: "ecdsa-with-SHA256",
    "1.2.840.10045.4.3.3": "ecdsa-with-SHA384",
    "1.2.840.10045.4.3.4": "ecdsa-with-SHA512",
    "1.2.840.10045.2.1": "ecPublicKey",
    ED25519: "ed25519",
    ED448: "ed448",
    "1.2.840.113549.1.1.1": "rsaEncryption",
    RSA_PSS: "rsassa-pss",
    "1.2.840.113549.1.1.11": "sha256WithRSAEncryption",
    "1.2.840.113549.1.1.12": "sha384WithRSAEncryption",
    "1.2.840.113549.1.1.13": "sha512WithRSAEncryption",
}

#: Extended key usages that allow signing documents (a signer certificate without EKU allows it too)
EKU_FOR_SIGNING = frozenset({
    ExtendedKeyUsageOID.EMAIL_PROTECTION,
    ExtendedKeyUsageOID.CODE_SIGNING,
    ExtendedKeyUsageOID.CLIENT_AUTH,
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    ObjectIdentifier("1.3.6.1.5.5.7.3.36"),  # id-kp-documentSigning (RFC 9336)
    ObjectIdentifier("1.3.6.1.4.1.311.10.3.12"),  # Microsoft document signing
    ObjectIdentifier("1.2.840.113583.1.1.5"),  # Adobe authentic documents trust
})

#: Names for the subject attributes we accept in a CSR, as they appear in messages and the CLI.
SUBJECT_ATTRIBUTE_NAMES: dict[ObjectIdentifier, str] = {
    NameOID.COMMON_NAME: "CN",
    NameOID.SURNAME: "SURNAME",
    NameOID.GIVEN_NAME: "GIVENNAME",
    PINFL: "PINFL",
    TIN: "TIN",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.TITLE: "T",
    NameOID.LOCALITY_NAME: "L",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.COUNTRY_NAME: "C",
    NameOID.USER_ID: "UID",
}

#: Short names for rfc4514_string(), so people read "PINFL=…" rather than a dotted OID.
_DISPLAY_NAMES = {
    PINFL: "PINFL",
    TIN: "TIN",
    NameOID.SURNAME: "SURNAME",
    NameOID.GIVEN_NAME: "GIVENNAME",
    NameOID.TITLE: "T",
}


def display_name(name: x509.Name) -> str:
    """An RFC 4514 string of *name* with PINFL, TIN, SURNAME, GIVENNAME and T spelled out."""
    return name.rfc4514_string(_DISPLAY_NAMES)
