"""The `yagona` command contract, run as a real process against the test database."""
from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

YAGONA = str(Path(sys.executable).with_name("yagona"))


def test_clients_add_list_remove_json(run):
    name = f"e-kommunal {secrets.token_hex(2)}"
    out = run("clients", "add", name, "--redirect-uri", "https://e-kommunal.uz/cb",
              "--redirect-uri", "https://e-kommunal.uz/cb2", "--post-logout-uri", "https://e-kommunal.uz/",
              "--scope", "openid profile pinfl", "--min-acr", "substantial", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["client_id"] and len(info["client_secret"]) >= 40
    assert info["redirect_uris"] == ["https://e-kommunal.uz/cb", "https://e-kommunal.uz/cb2"]
    assert info["scopes"] == ["openid", "profile", "pinfl"] and info["min_acr"] == "substantial"

    listed = json.loads(run("clients", "list", "--json").stdout)
    mine = [c for c in listed if c["client_id"] == info["client_id"]]
    assert mine and "client_secret" not in mine[0] and "secret_hash" not in mine[0]
    assert info["client_secret"] not in run("clients", "list").stdout

    assert run("clients", "remove", info["client_id"]).returncode == 0
    again = run("clients", "remove", info["client_id"])
    assert again.returncode != 0 and "no client" in again.stderr


@pytest.mark.parametrize("args, message", [
    (["--redirect-uri", "http://evil.example.com/cb"], "plain http"),
    (["--redirect-uri", "https://p.uz/cb#frag"], "fragment"),
    (["--redirect-uri", "/relative"], "absolute URL"),
    (["--redirect-uri", "https://p.uz/cb", "--scope", "openid wallet"], "unknown scope"),
    (["--redirect-uri", "https://p.uz/cb", "--post-logout-uri", "ftp://p.uz/"], "post-logout"),
])
def test_clients_add_refuses_bad_registration(run, args, message):
    name = f"Bad portal {secrets.token_hex(3)}"
    out = run("clients", "add", name, *args, "--json")
    assert out.returncode != 0
    assert message in out.stderr and "Traceback" not in out.stderr
    assert not [c for c in json.loads(run("clients", "list", "--json").stdout) if c["name"] == name]


def test_users_add_reads_password_from_stdin(run):
    login = f"operator-{secrets.token_hex(3)}"
    out = run("users", "add", login, "--phone", "+998 91 234 56 78", "--json", stdin="long enough secret\n")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["login"] == login
    assert "long enough secret" not in out.stdout + out.stderr
    dup = run("users", "add", login, "--phone", "+998912345678", stdin="long enough secret\n")
    assert dup.returncode != 0 and "taken" in dup.stderr
    weak = run("users", "add", f"x{login}", "--phone", "+998912345678", stdin="short\n")
    assert weak.returncode != 0 and "at least 10" in weak.stderr
    empty = run("users", "add", f"y{login}", "--phone", "+998912345678", stdin="")
    assert empty.returncode != 0 and "stdin" in empty.stderr
    phone = run("users", "add", f"z{login}", "--phone", "12345", stdin="long enough secret\n")
    assert phone.returncode != 0 and "+998" in phone.stderr


def test_keys_rotate_keeps_old_key_published(run):
    before = json.loads(run("keys", "list", "--json").stdout)
    active_es = [k for k in before if k["alg"] == "ES256" and k["state"] == "active"]
    assert len(active_es) == 1
    out = run("keys", "rotate", "--alg", "ES256")
    assert out.returncode == 0, out.stderr
    after = {k["kid"]: k for k in json.loads(run("keys", "list", "--json").stdout)}
    assert after[active_es[0]["kid"]]["state"] == "published"
    new_active = [k for k in after.values() if k["alg"] == "ES256" and k["state"] == "active"]
    assert len(new_active) == 1 and new_active[0]["kid"] != active_es[0]["kid"]


def test_unreachable_database_is_one_line_error(run, tmp_path):
    env = {**run.env, "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    out = subprocess.run([YAGONA, "clients", "list"], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode != 0
    assert "cannot open the database" in out.stderr and "Traceback" not in out.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_starts_with_embedded_defaults(tmp_path):
    """`yagona serve` on a fresh instance folder: SQLite file, keys and demo client made on first start."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "YAGONA_SECRET_KEY", "YAGONA_ISSUER"}}
    env.update(YAGONA_INSTANCE=str(tmp_path / "inst"), YAGONA_DEV="1")
    proc = subprocess.Popen([YAGONA, "serve", "--port", str(port), "--workers", "1"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 60
        meta = None
        while time.time() < deadline and meta is None:
            try:
                meta = requests.get(f"http://127.0.0.1:{port}/.well-known/openid-configuration", timeout=2).json()
            except requests.RequestException:
                time.sleep(0.3)
        assert meta is not None, "server did not start"
        assert meta["issuer"] == f"http://127.0.0.1:{port}"
        jwks = requests.get(meta["jwks_uri"], timeout=5).json()
        assert {k["alg"] for k in jwks["keys"]} == {"ES256", "RS256"}
        assert requests.get(f"http://127.0.0.1:{port}/demo", timeout=5).status_code == 200
        inst = tmp_path / "inst"
        assert (inst / "yagona.db").exists() and (inst / "secret.key").stat().st_mode & 0o077 == 0
        assert (inst / "demo-client.json").stat().st_mode & 0o077 == 0
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "client_id" in out and "client_secret" in out and "/demo" in out


# -- where the instance is: only `serve` and `init` may create one ----------------------------------
ADMIN_COMMANDS = [
    ("clients", "list"),
    ("clients", "add", "Portal", "--redirect-uri", "https://p.uz/cb", "--json"),
    ("users", "add", "citizen-one", "--phone", "+998901234567"),
    ("db", "upgrade"),
    ("db", "prune"),
    ("keys", "list"),
    ("keys", "rotate"),
]


def _bare_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any Yagona setting, plus *extra*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YAGONA_") and k != "DATABASE_URL"}
    return {**env, **extra}


@pytest.mark.parametrize("where, command",
                         [("cwd", c) for c in ADMIN_COMMANDS] +
                         [(w, ("clients", "list")) for w in ("YAGONA_INSTANCE", "only DATABASE_URL",
                                                              "only YAGONA_SECRET_KEY")] +
                         [("YAGONA_INSTANCE", ADMIN_COMMANDS[2])],
                         ids=lambda v: v if isinstance(v, str) else " ".join(v[:2]))
def test_admin_commands_outside_an_instance_refuse_and_create_nothing(command, where, tmp_path, database_url):
    """Run elsewhere, a command once made a fresh empty instance and wrote into a throw-away database."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    folder = cwd / "instance"
    env = _bare_env()
    if where == "YAGONA_INSTANCE":
        folder = tmp_path / "no" / "such"
        env["YAGONA_INSTANCE"] = str(folder)
    elif where == "only DATABASE_URL":
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'loose.db'}"
    elif where == "only YAGONA_SECRET_KEY":
        env["YAGONA_SECRET_KEY"] = secrets.token_hex(32)
    out = subprocess.run([YAGONA, *command], input="long enough secret\n", capture_output=True, text=True,
                         env=env, cwd=cwd, timeout=120)
    assert out.returncode != 0, out.stdout
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert f"no Yagona instance in {folder}" in out.stderr and "YAGONA_INSTANCE" in out.stderr
    assert "yagona init" in out.stderr
    assert not folder.exists() and not (tmp_path / "no").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere"]
    assert list(cwd.iterdir()) == []


def test_init_makes_the_instance_that_later_commands_use(tmp_path):
    home = tmp_path / "site"
    home.mkdir()
    env = _bare_env()
    init = subprocess.run([YAGONA, "init"], capture_output=True, text=True, env=env, cwd=home, timeout=120)
    assert init.returncode == 0, init.stderr
    inst = home / "instance"
    assert str(inst) in init.stdout
    secret = (inst / "secret.key").read_text()
    assert (inst / "secret.key").stat().st_mode & 0o077 == 0 and inst.stat().st_mode & 0o077 == 0
    assert (inst / "yagona.db").exists()

    add = subprocess.run([YAGONA, "users", "add", "citizen-one", "--phone", "+998901234567"],
                         input="long enough secret\n", capture_output=True, text=True, env=env, cwd=home, timeout=120)
    assert add.returncode == 0, add.stderr
    # from any folder, YAGONA_INSTANCE names the same instance: the login is taken there
    again = subprocess.run([YAGONA, "users", "add", "citizen-one", "--phone", "+998901234567"],
                           input="long enough secret\n", capture_output=True, text=True,
                           env={**env, "YAGONA_INSTANCE": str(inst)}, cwd=tmp_path, timeout=120)
    assert again.returncode != 0 and "taken" in again.stderr
    keys = subprocess.run([YAGONA, "keys", "list", "--json"], capture_output=True, text=True, env=env, cwd=home,
                          timeout=120)
    assert {k["alg"] for k in json.loads(keys.stdout)} == {"ES256", "RS256"}

    second = subprocess.run([YAGONA, "init"], capture_output=True, text=True, env=env, cwd=home, timeout=120)
    assert second.returncode == 0, second.stderr
    assert (inst / "secret.key").read_text() == secret  # an existing instance is kept, never replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_environment_settings_need_no_instance_folder(run, tmp_path):
    """Production: DATABASE_URL and YAGONA_SECRET_KEY are the whole configuration."""
    cwd = tmp_path / "anywhere"
    cwd.mkdir()
    env = {k: v for k, v in run.env.items() if k != "YAGONA_INSTANCE"}
    out = subprocess.run([YAGONA, "clients", "list", "--json"], capture_output=True, text=True, env=env, cwd=cwd,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert isinstance(json.loads(out.stdout), list)
    assert list(cwd.iterdir()) == []
    assert run("keys", "list").returncode == 0
    assert not (tmp_path / "instance").exists()  # the fixture's YAGONA_INSTANCE, never needed
