"""The names and algorithms of the hub's WS-Security signature profile, and canonicalisation.

Canonicalisation is lxml's (libxml2's) over one element. Two of its corners differ from the
specifications, and the verifier refuses where they would matter instead of computing other bytes
than the signer did: lxml drops `#default` from an InclusiveNamespaces PrefixList, and inclusive
C14N of an element does not inherit `xml:` attributes from its ancestors.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence

from cryptography.hazmat.primitives import hashes
from lxml import etree

from hub.soap.envelope import DS_NS, WSSE_NS, WSU_NS

WSU_ID = f"{{{WSU_NS}}}Id"
EC_NS = "http://www.w3.org/2001/10/xml-exc-c14n#"
XML_NS = "http://www.w3.org/XML/1998/namespace"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
INCLUSIVE_NAMESPACES = f"{{{EC_NS}}}InclusiveNamespaces"

X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64_BINARY = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
SKI = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier"
THUMBPRINT_SHA1 = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1"
BINARY_SECURITY_TOKEN = f"{{{WSSE_NS}}}BinarySecurityToken"
SECURITY_TOKEN_REFERENCE = f"{{{WSSE_NS}}}SecurityTokenReference"

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"

SIGNATURE_METHODS: dict[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    RSA_SHA256: ("rsa", hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": ("rsa", hashes.SHA384),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": ("rsa", hashes.SHA512),
    ECDSA_SHA256: ("ec", hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": ("ec", hashes.SHA384),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": ("ec", hashes.SHA512),
}
DIGEST_METHODS: dict[str, Callable[[bytes], hashlib._Hash]] = {
    SHA256: hashlib.sha256,
    "http://www.w3.org/2001/04/xmldsig-more#sha384": hashlib.sha384,
    "http://www.w3.org/2001/04/xmlenc#sha512": hashlib.sha512,
}


def ds(name: str) -> str:
    return f"{{{DS_NS}}}{name}"


def base64_bytes(text: str | None, *, strict: bool = False) -> bytes:
    """The bytes of a base64 element text, which may be wrapped over lines; ValueError if not base64."""
    return base64.b64decode("".join((text or "").split()), validate=strict)


class Canonicalization:
    """Exclusive C14N (with an InclusiveNamespaces PrefixList) or inclusive C14N 1.0, without comments."""

    def __init__(self, *, exclusive: bool = True, prefixes: Sequence[str] = ()) -> None:
        self.exclusive = exclusive
        self.prefixes = tuple(prefixes)

    def __call__(self, element: etree._Element) -> bytes:
        return etree.tostring(
            element,
            method="c14n",
            exclusive=self.exclusive,
            with_comments=False,
            inclusive_ns_prefixes=[p for p in self.prefixes if p != "#default"] or None,
        )

    def unsupported_because(self, element: etree._Element) -> str | None:
        """Why lxml's bytes for `element` could differ from the specification's, or None."""
        if self.exclusive and "#default" in self.prefixes and _default_namespace_changes_unused(element):
            return (
                "a PrefixList naming #default over an element where the default namespace is in scope but "
                "not used; use prefixed namespaces or leave #default out"
            )
        if not self.exclusive and any(
            key.startswith(f"{{{XML_NS}}}") for ancestor in element.iterancestors() for key in ancestor.attrib
        ):
            return "inclusive C14N of an element whose ancestors carry xml: attributes; use exclusive C14N"
        return None


EXCLUSIVE = Canonicalization()


def _default_namespace_changes_unused(element: etree._Element) -> bool:
    """Whether `#default` changes the bytes: only where the default namespace changes at an element that
    does not use it (a prefixed one) does inclusive treatment declare it and exclusive not."""
    for descendant in element.iter():
        above = descendant.getparent().nsmap.get(None) if descendant is not element else None
        if descendant.nsmap.get(None) != above and descendant.prefix is not None:
            return True
    return False
