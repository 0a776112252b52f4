"""Per-member certificates: each member connects with a certificate of its own,
servers admit those in a directory, and deleting one revokes that member alone."""
from __future__ import annotations

import os

import pytest
import zmq.auth

from greenpylm.clients import Client
from greenpylm.wire.curve import AuthenticationFailed, cluster_keys
from helpers import Proc, free_port, tcp

pytestmark = pytest.mark.timeout(120)
KEY = "the cluster's one secret"


@pytest.fixture
def certificates(tmp_path):
    """Certificates of a master, a worker and two clients; the public halves of all
    four in `members/`, as an operator would lay them out."""
    members = tmp_path / "members"
    members.mkdir()
    for name in ("master", "alice", "bob", "carol"):
        public, _ = zmq.auth.create_certificates(str(tmp_path), name)
        os.rename(public, members / f"{name}.key")
    return tmp_path


def env_of(certificates, name: str) -> dict:
    return {"GREENPYLM_KEY": KEY, "GREENPYLM_MEMBERS": str(certificates / "members"),
            "GREENPYLM_CERTIFICATE": str(certificates / f"{name}.key_secret")}


def test_members_with_certificates_are_served_and_one_is_revoked_alone(
        procs, certificates, monkeypatch):
    db, pull, pub, wpull, wpush = (tcp(free_port()) for _ in range(5))
    master = Proc(["tests/servers_for_tests.py", "master", "m", db, pull, pub, wpull, wpush],
                  env=env_of(certificates, "master"))
    procs.append(master)
    master.wait_for("started")
    procs.append(Proc(["tests/servers_for_tests.py", "worker", "w", db],
                      env=env_of(certificates, "alice")))
    master.wait_for("worker w joined")

    monkeypatch.setenv("GREENPYLM_CERTIFICATE", str(certificates / "bob.key_secret"))
    with Client("m", db, key=KEY) as bob:
        assert bob.eval("m.work", b"bob", timeout=10) == b"bob|w"

    # the secret alone no longer admits: the members' shared key is not in the directory
    monkeypatch.delenv("GREENPYLM_CERTIFICATE")
    with Client("m", db, key=KEY) as secret_only, \
            pytest.raises(AuthenticationFailed, match="authentication failed"):
        secret_only.eval("m.work", b"x", timeout=5)
    master.wait_for("not a member of this cluster")

    # revoke bob: delete his public certificate; nothing is restarted or re-keyed
    (certificates / "members" / "bob.key").unlink()
    monkeypatch.setenv("GREENPYLM_CERTIFICATE", str(certificates / "bob.key_secret"))
    with Client("m", db, key=KEY) as revoked, \
            pytest.raises(AuthenticationFailed, match="authentication failed"):
        revoked.eval("m.work", b"x", timeout=5)

    # everyone else goes on: alice's worker serves carol
    monkeypatch.setenv("GREENPYLM_CERTIFICATE", str(certificates / "carol.key_secret"))
    with Client("m", db, key=KEY) as carol:
        results = list(carol.job("m.work", [b"%d" % i for i in range(100)], timeout=20))
    assert sorted(results) == sorted(b"%d|w" % i for i in range(100))


def test_certificate_settings_without_a_secret_or_with_a_public_file_are_refused(
        certificates, monkeypatch):
    monkeypatch.delenv("GREENPYLM_KEY", raising=False)
    monkeypatch.setenv("GREENPYLM_MEMBERS", str(certificates / "members"))
    with pytest.raises(ValueError, match="need the cluster's secret too"):
        cluster_keys()
    monkeypatch.setenv("GREENPYLM_CERTIFICATE", str(certificates / "members" / "bob.key"))
    with pytest.raises(ValueError, match="holds no secret key"):
        cluster_keys(KEY)
    monkeypatch.setenv("GREENPYLM_CERTIFICATE", str(certificates / "bob.key_secret"))
    monkeypatch.setenv("GREENPYLM_MEMBERS", str(certificates / "nowhere"))
    with pytest.raises(FileNotFoundError, match="not a directory"):
        cluster_keys(KEY)
