from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from astrid.delivery import sign, verify_signature

BODY = b'{"alert_id":1}'
TS = 1_700_000_000


def test_sign_is_the_documented_hmac():
    expected = hmac.new(b"k", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign("k", TS, BODY) == f"sha256={expected}"


def test_verify_accepts_a_fresh_signature_and_refuses_the_rest():
    good = sign("k", TS, BODY)
    assert verify_signature("k", good, str(TS), BODY, now=TS + 299)
    assert verify_signature("k", good, TS, BODY, now=TS - 299)  # a receiver's clock behind
    assert not verify_signature("k", good, TS, BODY, now=TS + 301)
    assert not verify_signature("k", good, TS, BODY, tolerance_s=10, now=TS + 11)
    assert not verify_signature("other", good, TS, BODY, now=TS)
    assert not verify_signature("k", good, TS + 1, BODY, now=TS)
    assert not verify_signature("k", good.upper(), TS, BODY, now=TS)
    assert not verify_signature("k", None, TS, BODY, now=TS)
    assert not verify_signature("k", good, None, BODY, now=TS)
    assert not verify_signature("k", good, "soon", BODY, now=TS)


def test_several_signatures_while_a_secret_rotates():
    header = f"{sign('old', TS, BODY)}, {sign('new', TS, BODY)}"
    assert verify_signature("new", header, TS, BODY, now=TS)
    assert verify_signature("old", header, TS, BODY, now=TS)
    assert not verify_signature("third", header, TS, BODY, now=TS)


@given(secret=st.text(min_size=1), body=st.binary(), ts=st.integers(0, 2**40))
def test_round_trip(secret, body, ts):
    signature = sign(secret, ts, body)
    assert verify_signature(secret, signature, str(ts), body, now=ts)
    assert not verify_signature(secret, signature, str(ts), body + b"x", now=ts)
