"""Certificates a test needs that umbractl does not make: other CAs, odd validity periods."""
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_cert(cn, issuer=None, ca=False, not_before=None, not_after=None, dns=()):
    """A P-256 certificate: (cert_pem, key_pem, cert, key). issuer is (cert, key) or None
    (self-signed). Validity defaults to one hour ago .. one day ahead."""
    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    b = (x509.CertificateBuilder()
         .subject_name(_name(cn))
         .issuer_name(issuer[0].subject if issuer else _name(cn))
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(not_before or now - datetime.timedelta(hours=1))
         .not_valid_after(not_after or now + datetime.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if dns:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]),
                            critical=False)
    cert = b.sign(issuer[1] if issuer else key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key), cert, key


def write_pair(directory, stem, cert_pem, key_pem):
    """Write stem.pem and stem.key; return their paths."""
    c, k = directory / (stem + ".pem"), directory / (stem + ".key")
    c.write_bytes(cert_pem)
    k.write_bytes(key_pem)
    return str(c), str(k)
