"""A foreign SOAP client for the Konnektor simulator: Python's zeep, built from the vendored WSDLs.

Reads a JSON job from stdin ({conn, ca, endpoints, context, envelope}) and prints JSON results of
GetCards, ReadCardCertificate (RSA and ECC) and DecryptDocument.
"""
import base64
import json
import sys

import requests
from zeep import Client, Settings
from zeep.transports import Transport

job = json.load(sys.stdin)
session = requests.Session()
# REQUESTS_CA_BUNDLE in the environment would override session.verify: the test CA only.
session.trust_env = False
session.verify = job["ca"]
transport = Transport(session=session)
# xmldsig-core-schema.xsd (imported through the OASIS DSS schema) declares entities in its DOCTYPE.
settings = Settings(strict=True, forbid_entities=False)


def service(wsdl, binding, address):
    client = Client(job["conn"] + "/" + wsdl, transport=transport, settings=settings)
    return client.create_service(binding, address)


ctx = job["context"]
out = {}
evt = service("EventService.wsdl", "{http://ws.gematik.de/conn/EventService/WSDL/v7.2}EventServiceBinding", job["endpoints"]["EventService"])
cards = evt.GetCards(Context=ctx)
out["status"] = cards.Status.Result
out["cards"] = [{"handle": c.CardHandle, "type": c.CardType, "iccsn": c.Iccsn} for c in cards.Cards.Card]
smcb = next(c["handle"] for c in out["cards"] if c["type"] == "SMC-B")

cert = service("CertificateService_v6_0_1.wsdl", "{http://ws.gematik.de/conn/CertificateService/WSDL/v6.0}CertificateServiceBinding", job["endpoints"]["CertificateService"])
out["certs"] = {}
for crypt in ("RSA", "ECC"):
    r = cert.ReadCardCertificate(CardHandle=smcb, Context=ctx, CertRefList={"CertRef": ["C.ENC"]}, Crypt=crypt)
    out["certs"][crypt] = base64.b64encode(r.X509DataInfoList.X509DataInfo[0].X509Data.X509Certificate).decode()

enc = service("EncryptionService_v6_1_1.wsdl", "{http://ws.gematik.de/conn/EncryptionService/WSDL/v6.1}EncryptionServiceBinding", job["endpoints"]["EncryptionService"])
r = enc.DecryptDocument(
    Context=ctx,
    PrivateKeyOnCard={"CardHandle": smcb, "KeyReference": "C.ENC", "Crypt": "ECC"},
    Document={"Base64Data": {"_value_1": base64.b64decode(job["envelope"])}},
)
out["decryptStatus"] = r.Status.Result
out["decrypted"] = base64.b64encode(r.Document.Base64Data._value_1).decode()
print(json.dumps(out))
