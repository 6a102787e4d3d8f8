"""Secret recognition: by declaration, by name and by shape; never quoted in a problem."""

from __future__ import annotations

from dragonscope.nb import parse, redact, scrub
from dragonscope.nb.secrets import looks_random, may_hold_secret

PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX\n"
    "-----END RSA PRIVATE KEY-----"
)


def test_secrets_are_recognised_by_name_and_shape_and_removed():
    data = {
        "id": "p1",
        "lswitch": "s1",
        "name": "https://ops:hunter2pw@10.0.0.1/",  # declared field, secret shape
        "md5_key": "abc",  # credential name, whatever the value
        "psk": "x",
        "bundle": {"tls": PEM, "keep": "plain"},
        "vpn_key": "vQ8xL2mZ7rT4kW9pN3bY6hJ1",  # key-like name, random value
        "sort_key": "by-name",  # key-like name, but a word: kept
        "hosts": ["a", "https://u:pw1234@h/"],
    }
    shown = redact(parse("lport", "p1", data))
    assert shown == {
        "id": "p1", "lswitch": "s1", "sort_key": "by-name", "bundle": {"keep": "plain"},
        "hosts": ["a"],
    }  # fmt: skip
    assert data["psk"] == "x"  # the stored data is never changed
    assert looks_random("Zx81Qm3Lr7Tp0Wv5Kc2Nh6Yb") and not looks_random("aaaaaaaaaaaaaaaaaaaa")


def test_problem_messages_never_quote_a_secret():
    broken = parse("bgp_peer", "b1", '{"id": "b1", "password": "s3cr3t-Malformed-pw')
    assert "s3cr3t" not in str(broken.problems) and "not shown" in str(broken.problems)
    plain = parse("lswitch", "s1", '{"id": "s1", "name": "net-a", "mtu": 1500,')
    assert "1500" in str(plain.problems)  # ordinary values are still quoted
    wrong = parse("lswitch", "s1", {"id": "s1", "mtu": PEM})
    assert "MIIB" not in str(wrong.problems)
    assert may_hold_secret('{"auth_token": "x') and not may_hold_secret('{"mtu": 1500')


def test_scrub_masks_secret_shapes_in_free_text():
    text = f'login password=hunter2 url https://u:pw9@h/x {{"md5_key": "abc"}} {PEM} ok'
    masked = scrub(text)
    for secret in ("hunter2", "pw9", "abc", "MIIB"):
        assert secret not in masked
    assert masked.endswith(" ok") and "https://u:***@h/x" in masked
