"""Broker credentials and ACL entries for one sensor (`edge-agent sensor add NAME`).

A sensor gets a mosquitto user of its own name and an ACL block that lets it
publish only below ``sensors/NAME/`` and read only its own results
(``<prefix>/+/results/+/NAME``, the topic contract
``<prefix>/<device>/results/<pipeline>/<sensor>``) and the availability topics
(``<prefix>/+/status``).  Running it again changes nothing unless asked to rotate
the password.  mosquitto reads both files again on SIGHUP (:func:`reload_broker`).

The password reaches ``mosquitto_passwd`` as an argument (``-b``, its only
non-interactive mode), so it is visible in the process list for the few
milliseconds the tool runs; run this on the device as root.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import secrets
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edge_agent.errors import EdgeAgentError

__all__ = [
    "DEFAULT_BROKER_FILES",
    "BrokerFiles",
    "SensorAdded",
    "SensorSetupError",
    "add_account",
    "add_sensor",
    "reload_broker",
    "remove_sensor",
    "sensor_acl_block",
    "validate_sensor_name",
]

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_FILE_MODE = 0o640


class SensorSetupError(EdgeAgentError):
    """A sensor cannot be added or removed.

    Attributes:
        sensor: The sensor name.
        path: File involved, when known.
        reason: Human-readable explanation.
    """

    def __init__(self, reason: str, *, sensor: str, path: Path | None = None) -> None:
        self.reason = reason
        self.sensor = sensor
        self.path = path
        where = f" ({path})" if path else ""
        super().__init__(f"sensor '{sensor}': {reason}{where}")


@dataclass(frozen=True, slots=True)
class BrokerFiles:
    """The mosquitto files that hold edge-agent's users.

    Attributes:
        passwd_file: mosquitto password file (``mosquitto_passwd`` format).
        acl_file: mosquitto ACL file.
        owner: User and group to own both files when they exist on the system
            (mosquitto reads them again after dropping privileges).
        daemon_user: The daemon's own broker user; never usable as a sensor name.
    """

    passwd_file: Path
    acl_file: Path
    owner: str = "mosquitto"
    daemon_user: str = "edge-agent"


DEFAULT_BROKER_FILES = BrokerFiles(
    passwd_file=Path("/etc/mosquitto/edge-agent/passwd"),
    acl_file=Path("/etc/mosquitto/edge-agent/acl"),
)


@dataclass(frozen=True, slots=True)
class SensorAdded:
    """What :func:`add_sensor` did.

    Attributes:
        name: The sensor (and broker user) name.
        password: The new password when one was set (show it once), else None.
        password_file: Where the new password was written, if asked.
        credentials_changed: A password entry was created or rotated.
        acl_changed: The ACL block was added or rewritten.
    """

    name: str
    password: str | None
    password_file: Path | None
    credentials_changed: bool
    acl_changed: bool

    @property
    def changed(self) -> bool:
        """Whether the broker must reload its files."""
        return self.credentials_changed or self.acl_changed


def validate_sensor_name(name: str, *, daemon_user: str = "edge-agent") -> None:
    """Check that a name can be a broker user and a single topic level.

    Args:
        name: Proposed sensor name.
        daemon_user: The daemon's broker user, which a sensor may not take over.

    Raises:
        SensorSetupError: The name is not ``[a-z0-9][a-z0-9_-]{0,62}`` or is the daemon's.
    """
    if not _NAME.fullmatch(name):
        raise SensorSetupError(
            "name must be 1-63 characters of a-z, 0-9, '_' or '-', starting with a letter or digit",
            sensor=name,
        )
    if name == daemon_user:
        raise SensorSetupError("name is the daemon's own broker user", sensor=name)


def sensor_acl_block(name: str, topic_prefix: str = "edge-agent") -> str:
    """The ACL block of one sensor, between BEGIN/END markers.

    Args:
        name: Sensor name (already validated).
        topic_prefix: The daemon's topic prefix.

    Returns:
        The block text, ending with a newline.
    """
    return (
        f"# BEGIN sensor {name}\n"
        f"user {name}\n"
        f"topic write sensors/{name}/#\n"
        f"topic read {topic_prefix}/+/results/+/{name}\n"
        f"topic read {topic_prefix}/+/status\n"
        f"# END sensor {name}\n"
    )


def _block_pattern(name: str, kind: str = "sensor") -> re.Pattern[str]:
    return re.compile(
        rf"^# BEGIN {kind} {re.escape(name)}\n.*?^# END {kind} {re.escape(name)}\n",
        re.MULTILINE | re.DOTALL,
    )


_OTHER_BLOCK = re.compile(r"^# BEGIN (?P<kind>[a-z-]+) (?P<name>\S+)$", re.MULTILINE)


def _owner_ids(owner: str) -> tuple[int, int] | None:
    try:
        return pwd.getpwnam(owner).pw_uid, grp.getgrnam(owner).gr_gid
    except KeyError:
        return None


def _secure(path: Path, files: BrokerFiles) -> None:
    os.chmod(path, _FILE_MODE)
    ids = _owner_ids(files.owner)
    if ids is not None and os.geteuid() == 0:
        os.chown(path, *ids)


def _write_atomic(path: Path, text: str, files: BrokerFiles) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        _secure(Path(tmp), files)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _has_user(passwd_file: Path, name: str) -> bool:
    if not passwd_file.exists():
        return False
    prefix = f"{name}:"
    return any(
        line.startswith(prefix) for line in passwd_file.read_text(encoding="utf-8").splitlines()
    )


def _run_passwd(args: list[str], *, sensor: str, path: Path) -> None:
    try:
        subprocess.run(args, check=True, capture_output=True, timeout=30)  # noqa: S603
    except FileNotFoundError as exc:
        raise SensorSetupError(
            f"{args[0]} not found (apt-get install mosquitto)", sensor=sensor, path=path
        ) from exc
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode("utf-8", "replace").strip()
        raise SensorSetupError(
            f"{args[0]} failed ({exc.returncode}): {detail}", sensor=sensor, path=path
        ) from exc


def _write_password_file(path: Path, password: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(password + "\n")


def _set_password(name: str, files: BrokerFiles, tool: str) -> str:
    password = secrets.token_urlsafe(24)
    if not files.passwd_file.exists():
        files.passwd_file.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(files.passwd_file, "", files)
    _run_passwd(
        [tool, "-b", str(files.passwd_file), name, password],
        sensor=name,
        path=files.passwd_file,
    )
    _secure(files.passwd_file, files)
    return password


def _ensure_acl(name: str, files: BrokerFiles, block: str, kind: str) -> bool:
    text = files.acl_file.read_text(encoding="utf-8") if files.acl_file.exists() else ""
    pattern = _block_pattern(name, kind)
    found = pattern.search(text)
    if found is not None and found.group(0) == block:
        return False
    if found is not None:
        text = pattern.sub(lambda _m: block, text, count=1)
    else:
        text = text + ("" if not text or text.endswith("\n") else "\n") + block
    files.acl_file.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(files.acl_file, text, files)
    return True


def add_sensor(
    name: str,
    files: BrokerFiles = DEFAULT_BROKER_FILES,
    *,
    topic_prefix: str = "edge-agent",
    password_out: Path | None = None,
    rotate: bool = False,
    tool: str = "mosquitto_passwd",
) -> SensorAdded:
    """Create (idempotently) a sensor's broker user and ACL block.

    An existing user keeps its password unless ``rotate`` is true; the ACL block is
    rewritten only when it differs.  A new password is returned once and, when
    ``password_out`` is given, written there with mode 0600.

    Args:
        name: Sensor name: a broker user and the topic level ``sensors/NAME/``.
        files: The mosquitto password and ACL files.
        topic_prefix: The daemon's topic prefix (``topic_prefix`` in its config).
        password_out: File to receive a new password (mode 0600), instead of
            only returning it.
        rotate: Set a new password even when the user exists.
        tool: The ``mosquitto_passwd`` binary.

    Returns:
        What was done; call :func:`reload_broker` when ``changed``.

    Raises:
        SensorSetupError: Invalid name, an account of another role, or mosquitto_passwd failed.
    """
    block = sensor_acl_block(name, topic_prefix)
    return add_account(
        name, files, block=block, kind="sensor", password_out=password_out, rotate=rotate, tool=tool
    )


def add_account(
    name: str,
    files: BrokerFiles,
    *,
    block: str,
    kind: str,
    password_out: Path | None = None,
    rotate: bool = False,
    tool: str = "mosquitto_passwd",
) -> SensorAdded:
    """Create (idempotently) a broker user with one ACL block marked ``# BEGIN/END <kind>``.

    Raises:
        SensorSetupError: Invalid name, an account of another kind, or mosquitto_passwd failed.
    """
    validate_sensor_name(name, daemon_user=files.daemon_user)
    text = files.acl_file.read_text(encoding="utf-8") if files.acl_file.exists() else ""
    # One broker user has one role: a sensor never gains a control block, nor the reverse.
    for m in _OTHER_BLOCK.finditer(text):
        if m["name"] == name and m["kind"] != kind:
            raise SensorSetupError(
                f"already a {m['kind']} account", sensor=name, path=files.acl_file
            )
    password: str | None = None
    if rotate or not _has_user(files.passwd_file, name):
        password = _set_password(name, files, tool)
        if password_out is not None:
            _write_password_file(password_out, password)
    acl_changed = _ensure_acl(name, files, block, kind)
    return SensorAdded(
        name=name,
        password=password,
        password_file=password_out if password is not None else None,
        credentials_changed=password is not None,
        acl_changed=acl_changed,
    )


def remove_sensor(
    name: str,
    files: BrokerFiles = DEFAULT_BROKER_FILES,
    *,
    tool: str = "mosquitto_passwd",
) -> bool:
    """Delete a sensor's broker user and ACL block.

    Args:
        name: Sensor name.
        files: The mosquitto password and ACL files.
        tool: The ``mosquitto_passwd`` binary.

    Returns:
        Whether anything was removed.

    Raises:
        SensorSetupError: Invalid name, or mosquitto_passwd failed.
    """
    validate_sensor_name(name, daemon_user=files.daemon_user)
    changed = False
    if _has_user(files.passwd_file, name):
        _run_passwd(
            [tool, "-D", str(files.passwd_file), name],
            sensor=name,
            path=files.passwd_file,
        )
        _secure(files.passwd_file, files)
        changed = True
    if files.acl_file.exists():
        text = files.acl_file.read_text(encoding="utf-8")
        new_text, count = _block_pattern(name).subn("", text)
        if count:
            _write_atomic(files.acl_file, new_text, files)
            changed = True
    return changed


def reload_broker(pid_file: Path = Path("/run/mosquitto/mosquitto.pid")) -> bool:
    """Ask mosquitto to re-read its password and ACL files (SIGHUP).

    Args:
        pid_file: mosquitto's ``pid_file`` (Debian: /run/mosquitto/mosquitto.pid).

    Returns:
        True when a signal was sent; False when no broker is running there.
    """
    try:
        pid = int(pid_file.read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        return False
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        return False
    return True
