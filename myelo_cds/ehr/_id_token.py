"""The EHR's OpenID Connect ``id_token``: who the clinician is, checked before it is believed.

With ``openid fhirUser`` granted, the token response carries an ``id_token`` naming the user
(``fhirUser``: their Practitioner, PractitionerRole... resource). SMART App Launch 2.0 (scopes
and launch context, "fhirUser") and OpenID Connect Core 1.0 section 3.1.3.7 say how the app
checks it; here, with joserfc:

* the signature, by an asymmetric algorithm only (RS256 is what SMART requires servers to
  offer; never ``none`` or HMAC), with the key of the token's ``kid`` from the issuer's JWK Set
  (``jwks_uri`` of the SMART configuration, else of ``<issuer>/.well-known/openid-configuration``);
* ``iss`` equal to the configuration's ``issuer``; ``aud`` holding this app's client id (and
  ``azp`` equal to it when there are several audiences); ``exp`` not passed and ``iat``
  present (one minute of clock skew); ``nonce`` equal to the one this launch sent.

A token that fails any of these refuses the whole launch with a message saying which check
failed (never the token). ``fhirUser`` becomes the clinician's reference in the write-back.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

from joserfc import jws
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from joserfc.jwk import ECKey, Key, KeySet, RSAKey
from joserfc.jwt import JWTClaimsRegistry

from myelo_cds.ehr._record import LaunchError

__all__ = ["ID_TOKEN_ALGORITHMS", "fhir_user_reference", "public_key_set", "verify_id_token"]

#: Asymmetric signatures only (RFC 7518): RSA PKCS#1, RSA-PSS and ECDSA.
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
_CLOCK_SKEW_SECONDS = 60
_MAX_TOKEN_CHARACTERS = 16_384
_PRIVATE_PARTS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})
#: The resource types SMART App Launch 2.0 allows a ``fhirUser`` to be.
_USER_TYPES = ("Practitioner", "PractitionerRole", "Patient", "RelatedPerson", "Person")
_RELATIVE = re.compile(rf"(?:{'|'.join(_USER_TYPES)})/[A-Za-z0-9\-.]{{1,64}}")


def _refused(why: str) -> LaunchError:
    return LaunchError(502, f"The EHR's identity token (id_token) was refused: {why}. Nothing was imported.")


def public_key_set(data: Any) -> KeySet:
    """The RSA and EC public keys of a JWK Set (private parts and symmetric keys dropped)."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise _refused("the issuer's key set (jwks_uri) is not a JWK Set")
    keys: list[Key] = []
    for item in data["keys"]:
        if not isinstance(item, dict) or item.get("kty") not in ("RSA", "EC"):
            continue  # an HMAC ("oct") key would let anyone holding it sign as the EHR
        public = {name: value for name, value in item.items() if name not in _PRIVATE_PARTS}
        try:
            keys.append(RSAKey.import_key(public) if item["kty"] == "RSA" else ECKey.import_key(public))
        except (JoseError, ValueError):
            continue
    return KeySet(keys)


def fhir_user_reference(fhir_user: str, iss: str) -> str:
    """``fhirUser`` as a reference the EHR resolves: relative (``Practitioner/123``) when it is
    on the launch's FHIR server, else the absolute URL as given.

    Raises:
        LaunchError: not a reference to a user resource.
    """
    relative = fhir_user.removeprefix(iss.rstrip("/") + "/")
    if _RELATIVE.fullmatch(relative):
        return relative
    url = urlsplit(fhir_user)
    segments = url.path.split("/")
    if (
        url.scheme == "https"
        and url.netloc
        and not (url.query or url.fragment)
        and not {".", ".."} & set(segments)
        and _RELATIVE.fullmatch("/".join(segments[-2:]))
    ):
        return fhir_user
    raise _refused("its fhirUser is not a reference to a Practitioner, PractitionerRole or other user")


def verify_id_token(
    token: Any, *, keys: KeySet, issuer: str, client_id: str, nonce: str, now: float | None = None
) -> dict[str, Any]:
    """The claims of ``token`` once every check has passed (see the module docstring).

    Raises:
        LaunchError: the token is refused; the message names the failed check.
    """
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_CHARACTERS:
        raise _refused("the token answer holds no id_token although openid was granted")
    try:
        signed = jws.extract_compact(token.encode("ascii"))
        claims = json.loads(signed.payload or b"")
    except (UnicodeError, ValueError, JoseError):
        raise _refused("it is not a signed JWT") from None
    header = signed.headers()
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ID_TOKEN_ALGORITHMS:
        raise _refused(f"alg {str(alg)[:20]!r} is not an asymmetric signature (allowed: RS256, ES256...)")
    if not isinstance(claims, dict):
        raise _refused("its payload is not a JSON object")
    candidates = [key for key in keys.keys if kid is None or key.kid == kid]
    valid = False
    for key in candidates:
        try:
            valid = jws.validate_compact(signed, key, algorithms=[alg])
        except (JoseError, ValueError):
            valid = False
        if valid:
            break
    if not valid:
        raise _refused("its signature does not verify with the issuer's published keys (jwks_uri)")
    registry = JWTClaimsRegistry(
        now=int(time.time() if now is None else now),
        leeway=_CLOCK_SKEW_SECONDS,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise _refused("it has expired (exp)") from None
    except MissingClaimError as error:
        raise _refused(f"it lacks required claims ({error.description})") from None
    except InvalidClaimError as error:
        claim = str(getattr(error, "claim", "?"))
        meaning = {
            "iss": f"its issuer (iss) is not {issuer}",
            "aud": "it was not issued to this app (aud is not our client id)",
            "nonce": "its nonce is not the one this launch sent (a replayed or swapped token)",
        }
        raise _refused(meaning.get(claim, f"its {claim} is not allowed")) from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise _refused("it names several audiences and its azp is not this app")
    return claims
