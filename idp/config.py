"""Service settings: embedded defaults, overridden by environment variables or by the app factory.

Everything an operator may want to change is read here, once, so the rest of the code never
looks at the environment.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Settings:
    instance_path: Path
    database_url: str
    issuer: str
    secret_key: bytes
    redis_url: str | None = None
    #: the CA folder whose CRLs, OCSP and TSA are served under /ca (YAGONA_CA_DIR; None: instance/ca)
    ca_dir: Path | None = None
    #: lifetimes, in seconds
    code_ttl: int = 60
    access_token_ttl: int = 600
    id_token_ttl: int = 600
    refresh_token_ttl: int = 14 * 24 * 3600  # idle: each rotation extends it
    refresh_family_ttl: int = 30 * 24 * 3600  # absolute, from the login
    session_idle_ttl: int = 30 * 60
    session_max_ttl: int = 10 * 3600
    #: how long a retired signing key stays in the JWKS after rotation
    key_retire_grace: int = 3600
    #: password lockout: after this many failures, wait lockout_base * 2**k seconds (at most lockout_max)
    lockout_threshold: int = 5
    lockout_base: int = 60
    lockout_max: int = 15 * 60
    terms_version: str = "2026-11"
    demo: bool = False
    #: development mode (YAGONA_DEV=1): outside systems without a configured URL get their development
    #: backend (registry fixture, SMS outbox, test cards); otherwise the service refuses to start
    dev: bool = False
    #: outside systems' HTTP backends by name (registry, sms, email, cards): YAGONA_<NAME>_URL and the
    #: bearer token for it, YAGONA_<NAME>_TOKEN
    gateway_urls: dict[str, str] = field(default_factory=dict)
    gateway_tokens: dict[str, str] = field(default_factory=dict)
    #: Argon2id: OWASP's m=7 MiB, t=5, p=1 row (the strength of m=19 MiB, t=2; Keycloak's choice too),
    #: measured faster here than the 19 MiB row and lighter on memory under concurrent logins
    argon2_memory_kib: int = 7 * 1024
    argon2_time_cost: int = 5
    argon2_parallelism: int = 1
    extra: dict = field(default_factory=dict)

    @property
    def secure_cookies(self) -> bool:
        return self.issuer.startswith("https://")

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)


#: the outside systems Yagona talks to through a gateway (idp/gateways/)
GATEWAYS = ("registry", "sms", "email", "cards")


class ConfigError(Exception):
    """A setting is missing or wrong; the message says what to do."""


def _secret_from_env() -> bytes | None:
    env = os.environ.get("YAGONA_SECRET_KEY")
    if not env:
        return None
    if len(env) < 32:
        raise ConfigError("YAGONA_SECRET_KEY must be at least 32 characters (64 hex digits recommended)")
    return env.encode()


def _new_instance_secret(path: Path) -> None:
    """Write a fresh master secret to *path* (mode 0600), unless another process wrote one first."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    try:
        os.link(tmp, path)  # never overwrite a secret another process wrote first
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def load_settings(host: str = "127.0.0.1", port: int = 8000, *, create: bool = True,
                  **overrides: object) -> Settings:
    """Settings from the environment, with embedded defaults that run on a laptop.

    With create=True (serving, `yagona init`) a missing instance folder is made, with a new master
    secret and the SQLite database's place. With create=False (every administrative command) the
    secret and the database must already exist, each either in the environment (DATABASE_URL,
    YAGONA_SECRET_KEY) or in the instance folder: a command run in the wrong folder must not write
    into a throw-away database. ConfigError says which folder was looked in.
    """
    instance = Path(os.environ.get("YAGONA_INSTANCE", "./instance")).resolve()
    secret_path, sqlite_path = instance / "secret.key", instance / "yagona.db"
    secret = _secret_from_env()
    database_url = os.environ.get("DATABASE_URL") or None
    if create:
        instance.mkdir(parents=True, exist_ok=True)
        os.chmod(instance, 0o700)
        if secret is None and not secret_path.exists():
            _new_instance_secret(secret_path)
    elif (secret is None and not secret_path.is_file()) or (database_url is None and not sqlite_path.is_file()):
        raise ConfigError(f"no Yagona instance in {instance}: run 'yagona init' or 'yagona serve' there, "
                          "or set YAGONA_INSTANCE (or DATABASE_URL and YAGONA_SECRET_KEY)")
    if secret is None:
        secret = secret_path.read_text().strip().encode()
    issuer = os.environ.get("YAGONA_ISSUER") or f"http://{host}:{port}"
    settings = Settings(
        instance_path=instance,
        database_url=database_url or f"sqlite:///{sqlite_path}",
        issuer=issuer.rstrip("/"),
        secret_key=secret,
        redis_url=os.environ.get("REDIS_URL") or None,
        ca_dir=Path(os.environ["YAGONA_CA_DIR"]).resolve() if os.environ.get("YAGONA_CA_DIR") else None,
        demo=os.environ.get("YAGONA_DEMO", "") == "1",
        dev=os.environ.get("YAGONA_DEV", "") == "1",
        gateway_urls={name: os.environ[f"YAGONA_{name.upper()}_URL"] for name in GATEWAYS
                      if os.environ.get(f"YAGONA_{name.upper()}_URL")},
        gateway_tokens={name: os.environ[f"YAGONA_{name.upper()}_TOKEN"] for name in GATEWAYS
                        if os.environ.get(f"YAGONA_{name.upper()}_TOKEN")},
    )
    return settings.with_(**overrides) if overrides else settings
