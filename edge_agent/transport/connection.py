"""How the client reaches the broker: password, TLS and reconnect delays."""

from __future__ import annotations

import os
import random
import ssl
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as paho

from edge_agent.config.models import BrokerSettings
from edge_agent.errors import ConfigError

__all__ = ["apply_tls", "backoff_delays", "read_password"]


def read_password(settings: BrokerSettings, environ: dict[str, str] | None = None) -> str | None:
    """Read the broker password from a file or a systemd credential.

    Raises:
        ConfigError: The named file or credential cannot be read.
    """
    env = dict(os.environ) if environ is None else environ
    path: Path | None = None
    if settings.password_credential:
        creds = env.get("CREDENTIALS_DIRECTORY")
        if not creds:
            raise ConfigError(
                "password_credential is set but $CREDENTIALS_DIRECTORY is not (LoadCredential=)",
                key="broker.password_credential",
            )
        path = Path(creds) / settings.password_credential
    elif settings.password_file:
        path = settings.password_file
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").strip("\r\n")
    except OSError as exc:
        raise ConfigError(f"cannot read password: {exc.strerror}", file=str(path)) from exc


def backoff_delays(minimum: float, maximum: float, rng: random.Random) -> Callable[[int], float]:
    """Return ``attempt -> delay``: full-jitter exponential backoff, capped."""

    def delay(attempt: int) -> float:
        cap = min(maximum, minimum * (2 ** min(attempt, 30)))
        return rng.uniform(minimum, max(minimum, cap))

    return delay


def apply_tls(client: paho.Client, settings: BrokerSettings) -> None:
    """Verify the broker's certificate (and present ours) as ``broker.tls`` says."""
    tls = settings.tls
    client.tls_set(
        ca_certs=str(tls.ca_file) if tls and tls.ca_file else None,
        certfile=str(tls.cert_file) if tls and tls.cert_file else None,
        keyfile=str(tls.key_file) if tls and tls.key_file else None,
        cert_reqs=ssl.CERT_REQUIRED,
    )
    if tls and tls.insecure:
        client.tls_insecure_set(True)
