"""Identity and grants through the real Envoy: gateway keys, a trusted header from the hop in
front of Envoy, Aperture grants, and /v1/models filtered by them."""

import anthropic
import openai
import pytest

import time

from conftest import JWT_ISSUER, USER_KEYS, make_jwt

CHAT = {"messages": [{"role": "user", "content": "hi"}]}
ANTHROPIC = {"anthropic-version": "2023-06-01"}


def chat(gw, model, headers):
    """Each model in its provider's own format (translation is tested elsewhere)."""
    if model.startswith("claude"):
        return gw.post("/v1/messages", dict(CHAT, model=model, max_tokens=20), {**ANTHROPIC, **headers})
    return gw.post("/v1/chat/completions", dict(CHAT, model=model), headers)


def bearer(user):
    return {"authorization": "Bearer " + USER_KEYS[user]}


def test_two_identities_get_200_and_403_on_the_same_model(keyed_gateway, mock):
    r = chat(keyed_gateway, "claude-sonnet-4-5", bearer("alice@example.com"))
    assert r.status == 200, r.body
    got = mock.last()
    assert got["headers"]["x-user-tier"] == "gold"  # the grant's add_headers
    assert USER_KEYS["alice@example.com"] not in str(got["headers"])  # the gateway key stays at Iris
    mock.clear()
    r = chat(keyed_gateway, "claude-sonnet-4-5", bearer("bob@example.com"))
    assert r.status == 403
    error = r.json()["error"]
    assert error["type"] == "permission_error"
    assert error["message"] == 'access denied: model "anthropic/claude-sonnet-4-5" is not granted to bob@example.com'
    assert mock.requests() == []


def test_sdks_send_gateway_keys_the_way_they_send_api_keys(keyed_gateway, mock):
    client = openai.OpenAI(base_url=keyed_gateway.url + "/v1", api_key=USER_KEYS["bob@example.com"], max_retries=0)
    assert client.chat.completions.create(model="gpt-4.1", **CHAT).choices[0].message.content
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="gpt-4.1-mini", **CHAT)
    client = anthropic.Anthropic(base_url=keyed_gateway.url, api_key=USER_KEYS["alice@example.com"], max_retries=0)
    m = client.messages.create(model="claude-haiku-4-5", max_tokens=20, messages=CHAT["messages"])
    assert m.content[0].text
    with pytest.raises(anthropic.PermissionDeniedError):
        client.messages.create(model="gpt-4.1", max_tokens=20, messages=CHAT["messages"])


def test_wrong_or_missing_gateway_key_is_401_and_nothing_is_sent(keyed_gateway, mock):
    r = chat(keyed_gateway, "gpt-4.1", {"authorization": "Bearer not-a-key"})
    assert r.status == 401 and r.json()["error"]["code"] == "invalid_api_key"
    r = keyed_gateway.post("/v1/messages", {"model": "claude-haiku-4-5", "max_tokens": 5, **CHAT}, ANTHROPIC)
    assert r.status == 401 and r.json()["error"]["type"] == "authentication_error"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=keyed_gateway.url + "/v1", api_key="nope", max_retries=0).models.list()
    assert mock.requests() == []


def test_client_injected_identity_header_is_ignored_without_a_trusted_hop(keyed_gateway, mock):
    forged = {"tailscale-user-login": "carol@example.com", "x-forwarded-email": "carol@example.com"}
    # Without a key the forged header identifies nobody...
    assert chat(keyed_gateway, "gpt-4.1", forged).status == 401
    # ...and with bob's key the caller is bob, not carol (who may use everything).
    assert chat(keyed_gateway, "claude-sonnet-4-5", {**forged, **bearer("bob@example.com")}).status == 403
    assert chat(keyed_gateway, "gpt-4.1", {**forged, **bearer("bob@example.com")}).status == 200
    got = mock.last()
    assert "tailscale-user-login" not in got["headers"] and "x-forwarded-email" not in got["headers"]


def test_group_members_get_the_groups_grants(keyed_gateway, mock):
    for model in ("gpt-4.1", "gpt-4.1-mini", "claude-haiku-4-5"):
        assert chat(keyed_gateway, model, bearer("carol@example.com")).status == 200


def test_models_lists_exactly_the_granted_models_in_both_shapes(keyed_gateway, mock):
    client = openai.OpenAI(base_url=keyed_gateway.url + "/v1", api_key=USER_KEYS["alice@example.com"], max_retries=0)
    models = client.models.list()
    assert sorted(m.id for m in models) == ["claude-haiku-4-5", "claude-sonnet-4-5"]
    first = models.data[0].model_dump()
    assert first["owned_by"] == "anthropic"
    assert "/v1/messages" in first["supported_endpoints"] and "/v1/chat/completions" in first["supported_endpoints"]
    assert first["metadata"]["provider"]["id"] == "anthropic"
    haiku = next(m.model_dump() for m in models.data if m.id == "claude-haiku-4-5")
    assert haiku["pricing"] == {"input": "0.000001", "output": "0.000005",
                                "input_cache_read": "0.0000001", "input_cache_write": "0.00000125"}
    bob = openai.OpenAI(base_url=keyed_gateway.url + "/v1", api_key=USER_KEYS["bob@example.com"], max_retries=0)
    assert [m.id for m in bob.models.list()] == ["gpt-4.1"]
    # Claude Code asks with anthropic-version and gets Anthropic's list shape.
    ant = anthropic.Anthropic(base_url=keyed_gateway.url, api_key=USER_KEYS["carol@example.com"], max_retries=0)
    page = ant.models.list()
    assert sorted(m.id for m in page.data) == ["claude-haiku-4-5", "claude-sonnet-4-5", "gpt-4.1", "gpt-4.1-mini"]
    assert all(m.type == "model" for m in page.data)
    assert mock.requests() == []


def test_anonymous_gateway_lists_every_model(gateway, mock):
    models = openai.OpenAI(base_url=gateway.url + "/v1", api_key="-", max_retries=0).models.list()
    ids = {m.id for m in models}
    assert {"gpt-4.1", "claude-sonnet-4-5", "claude-opus-4-8", "offline-model"} <= ids
    assert not any("*" in i for i in ids)  # globs are routing patterns, not models


def test_trusted_header_from_tailscale_serve_identifies_the_caller(tailscale_gateway, mock):
    r = chat(tailscale_gateway, "claude-haiku-4-5", {"tailscale-user-login": "alice@example.com"})
    assert r.status == 200, r.body
    assert "tailscale-user-login" not in mock.last()["headers"]
    assert chat(tailscale_gateway, "claude-haiku-4-5", {"tailscale-user-login": "bob@example.com"}).status == 403
    # Groups from the hop's groups header count as well as config groups.
    r = chat(tailscale_gateway, "gpt-4.1-mini", {"tailscale-user-login": "dave@example.com",
                                                 "x-forwarded-groups": "group:eng"})
    assert r.status == 200
    # A request that did not come through the hop has no identity.
    assert chat(tailscale_gateway, "gpt-4.1", {}).status == 401


def token(email, **extra):
    claims = {"iss": JWT_ISSUER, "aud": "iris", "sub": email, "email": email, "exp": int(time.time()) + 600}
    claims.update(extra)
    return {"authorization": "Bearer " + make_jwt(claims)}


def test_jwt_verified_by_envoy_identifies_the_caller(jwt_gateway, mock):
    r = chat(jwt_gateway, "claude-haiku-4-5", token("alice@example.com"))
    assert r.status == 200, r.body
    assert "authorization" not in mock.last()["headers"] or not mock.last()["headers"]["authorization"].startswith("Bearer ey")
    assert chat(jwt_gateway, "claude-haiku-4-5", token("bob@example.com")).status == 403
    # Groups come from the token's groups claim: group:eng may use everything.
    assert chat(jwt_gateway, "gpt-4.1-mini", token("dave@example.com", groups=["eng"])).status == 200


def test_forged_expired_or_missing_jwt_is_401_in_the_clients_shape(jwt_gateway, mock):
    forged = {"authorization": "Bearer " + make_jwt({"iss": JWT_ISSUER, "aud": "iris", "email": "carol@example.com",
                                                      "exp": int(time.time()) + 600}, secret=b"not-the-key")}
    unsigned = {"authorization": "Bearer " + make_jwt({"iss": JWT_ISSUER, "aud": "iris", "email": "carol@example.com"},
                                                        alg="none")}
    expired = token("carol@example.com", exp=int(time.time()) - 3600)  # beyond the 60 s clock skew
    wrong_audience = token("carol@example.com", aud="someone-else")
    cases = {"forged": forged, "unsigned": unsigned, "expired": expired, "wrong audience": wrong_audience, "none": {}}
    for name, headers in cases.items():
        r = chat(jwt_gateway, "gpt-4.1", headers)
        assert r.status == 401, (name, r.body)
        assert r.json()["error"]["code"] == "invalid_api_key"
    r = chat(jwt_gateway, "claude-haiku-4-5", forged)
    assert r.status == 401 and r.json()["error"]["type"] == "authentication_error"
    assert mock.requests() == []
