"""Object identifiers Uzbek certificates and our own PKI use, in one place.

The two national subject attributes come from the E-IMZO field table (qo0p/e-imzo-doc README,
"1.2.860.3.16.1.2 = PINFL", "1.2.860.3.16.1.1 = TIN of a legal entity"; absent for private
persons). The TSA policy is the one E-IMZO's server reports (1.2.860.3.2.11.1).
"""
from __future__ import annotations

from cryptography import x509
from cryptography.x509 import NameOID, ObjectIdentifier

#: PINFL: the 14-digit personal identification number of a natural person.
PINFL = ObjectIdentifier("1.2.860.3.16.1.2")
#: TIN (INN/STIR) of the legal entity an employee acts for: 9 digits.
TIN = ObjectIdentifier("1.2.860.3.16.1.1")
#: Default policy of our timestamp authority (the one E-IMZO's TSA reports).
TSA_POLICY = "1.2.860.3.2.11.1"

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
