#!/usr/bin/env python3
"""Prints what each PEM chain file holds, computed with pyca/cryptography (not our code).

usage: cert_facts.py CHAIN.pem...

One JSON array on stdout, one object per file (leaf first in each file):
  {"serial": "<decimal>", "serial_hex": "<uppercase, two digits a byte>",
   "not_before": "YYYY-MM-DDTHH:MM:SSZ", "not_after": ..., "key_type": "EC"|"RSA",
   "key_bits": N, "key_curve": "P-256"|"P-384"|null, "chain_length": N}
"""
import json
import re
import sys

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

# SEC 2 names -> NIST FIPS 186-4 names.
NIST = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def facts(path):
    blocks = PEM.findall(open(path, "rb").read())
    leaf = x509.load_pem_x509_certificate(blocks[0])
    key = leaf.public_key()
    serial_hex = format(leaf.serial_number, "X")
    if len(serial_hex) % 2:
        serial_hex = "0" + serial_hex
    out = {
        "serial": str(leaf.serial_number),
        "serial_hex": serial_hex,
        "not_before": leaf.not_valid_before.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": leaf.not_valid_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "chain_length": len(blocks),
        "key_curve": None,
    }
    if isinstance(key, rsa.RSAPublicKey):
        out.update(key_type="RSA", key_bits=key.key_size)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        out.update(key_type="EC", key_bits=key.curve.key_size, key_curve=NIST[key.curve.name])
    return out


print(json.dumps([facts(p) for p in sys.argv[1:]]))
