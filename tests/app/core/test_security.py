"""API key format, hashing and parsing (no servers)."""

from maestro_api.core.security import generate_api_key, hash_api_key, parse_api_key


def test_generated_keys_are_random_and_only_their_hash_depends_on_the_pepper() -> None:
    a, b = generate_api_key("pepper-1"), generate_api_key("pepper-1")
    assert a.plaintext != b.plaintext and a.prefix != b.prefix
    assert a.key_hash == hash_api_key(a.plaintext, "pepper-1")
    assert a.key_hash != hash_api_key(a.plaintext, "pepper-2")
    assert a.plaintext.encode() not in a.key_hash
    assert len(a.plaintext) > 40


def test_parse_accepts_only_the_key_shape() -> None:
    key = generate_api_key("p")
    assert parse_api_key(key.plaintext) == key.prefix
    assert parse_api_key("eyJhbGciOi.eyJzdWIi.sig") is None
    assert parse_api_key("mst_short_x") is None
    assert parse_api_key("xyz_abcdefgh_secret") is None
