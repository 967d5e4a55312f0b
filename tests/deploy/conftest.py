from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# The deploy tests share deploy_support.py (tests/conftest.py puts tests/ on the path).
sys.path.insert(0, str(Path(__file__).parent))

from deploy_support import (
    Install,
    free_port,
    make_root,
    needs_root_and_mosquitto,
    remove_root,
)


@pytest.fixture
def fresh_install_root() -> Iterator[Install]:
    """An empty temporary root (no install yet); removed afterwards, group too."""
    needs_root_and_mosquitto()
    inst = Install(make_root(), f"eatest-{uuid.uuid4().hex[:8]}", free_port())
    yield inst
    inst.run("--uninstall", "--purge", "--skip-package")
    subprocess.run(["groupdel", inst.group], capture_output=True, check=False)
    remove_root(inst.root)


@pytest.fixture(scope="module")
def installed() -> Iterator[Install]:
    """install.sh --skip-package run once into a temporary root."""
    needs_root_and_mosquitto()
    inst = Install(make_root(), f"eatest-{uuid.uuid4().hex[:8]}", free_port())
    result = inst.run("--skip-package")
    assert result.returncode == 0, result.stderr + result.stdout
    yield inst
    inst.run("--uninstall", "--purge", "--skip-package")
    subprocess.run(["groupdel", inst.group], capture_output=True, check=False)
    remove_root(inst.root)
