"""The deployment files under deploy/ (quoted in docs/deploy.md).

* Every Kubernetes manifest validates, offline, against the schemas that the
  kubernetes-validate package bundles, strictly (a misspelt field fails).
* The manifests, the compose file and the systemd unit agree with each other
  and with greenpylm: the names, ports, the secret and the advertised address.
* The commands they run (the master's, a worker's, the liveness probe) are
  run here as processes, ports moved to free ones and the cluster's names
  resolved to this host, and a call goes through them.
"""
from __future__ import annotations

import configparser
import copy
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import ROOT, Proc, free_port

try:  # the `test` extra installs it; without it the schema checks skip, the rest runs
    import kubernetes_validate
    import kubernetes_validate.utils
except ImportError:  # pragma: no cover
    kubernetes_validate = None

DEPLOY = ROOT / "deploy"
MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
COMPOSE = DEPLOY / "compose" / "docker-compose.yml"
DOCKERFILE = DEPLOY / "compose" / "Dockerfile"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
#: a version kubernetes-validate 1.37 ships schemas for (see its kubernetes-json-schema/)
KUBERNETES_VERSION = "1.30"
KEY = "a key for test_manifests"
TCP = re.compile(r"tcp://([^:/]+):(\d+)")


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def validate(document: dict) -> None:
    """Raises unless `document` is a valid object of the Kubernetes API, unknown fields
    included (strict), or if no schema is known for its kind."""
    if kubernetes_validate is None:
        pytest.skip("kubernetes-validate is not installed (pip install kubernetes-validate)")
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def objects() -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for path in MANIFESTS for d in documents(path)}


def container(deployment: dict) -> dict:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


# --- Kubernetes ------------------------------------------------------------------------

def test_there_are_manifests():
    assert {p.name for p in MANIFESTS} >= {"master.yaml", "workers.yaml", "secret.yaml"}


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_the_manifest_validates_against_the_kubernetes_schemas(path):
    docs = documents(path)
    assert docs, f"{path.name} holds no object"
    for document in docs:
        validate(document)


@pytest.mark.parametrize("breakage", [
    "a misspelt field", "a field of the wrong type", "an unknown kind", "a missing field"])
def test_a_broken_manifest_is_refused(breakage):
    """The validation above can fail: each kind of mistake in the master's
    Deployment is caught."""
    deployment = copy.deepcopy(objects()[("Deployment", "greenpylm-squares-master")])
    spec = container(deployment)
    if breakage == "a misspelt field":
        spec["ports"][0]["containerport"] = spec["ports"][0].pop("containerPort")
    elif breakage == "a field of the wrong type":
        deployment["spec"]["replicas"] = "one"
    elif breakage == "an unknown kind":
        deployment["kind"] = "Deploymnet"
    else:
        del deployment["spec"]["selector"]
    if kubernetes_validate is None:
        pytest.skip("kubernetes-validate is not installed (pip install kubernetes-validate)")
    with pytest.raises((kubernetes_validate.ValidationError,
                        kubernetes_validate.utils.SchemaNotFoundError)):
        validate(deployment)


def test_the_kubernetes_objects_fit_together():
    found = objects()
    master = found[("Deployment", "greenpylm-squares-master")]
    workers = found[("Deployment", "greenpylm-squares-workers")]
    service = found[("Service", "greenpylm-squares-master")]
    secret = found[("Secret", "greenpylm-squares")]
    assert master["spec"]["replicas"] == 1, "a master is never scaled"
    assert workers["spec"]["replicas"] >= 1
    for deployment in (master, workers):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        env = {e["name"]: e for e in container(deployment)["env"]}
        key = env["GREENPYLM_KEY"]["valueFrom"]["secretKeyRef"]
        assert key["name"] == secret["metadata"]["name"] and key["key"] in secret["stringData"]
    # the service reaches the master's pod, on the ports it binds
    assert service["spec"]["selector"].items() <= \
        master["spec"]["template"]["metadata"]["labels"].items()
    master_args = container(master)["args"]
    assert master_args[:2] == ["run", "greenpylm.servers:Master"]
    bound = {name: TCP.match(option(master_args, f"--{name}")).groups()
             for name in ("db", "pull", "pub", "worker-pull", "worker-push")}
    assert all(host == "*" for host, _ in bound.values()), "bind every interface of the pod"
    ports = {p["name"]: p for p in container(master)["ports"]}
    service_ports = {p["name"]: p for p in service["spec"]["ports"]}
    for name, (_, port) in bound.items():
        assert ports[name]["containerPort"] == int(port)
        assert service_ports[name]["targetPort"] == name
    # it advertises its pod's IP, which workers and clients then connect to
    advertise = {e["name"]: e for e in container(master)["env"]}["GREENPYLM_ADVERTISE"]
    assert advertise["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    # workers are given the service's name and its cache port
    host, port = TCP.match(option(container(workers)["args"], "--db")).groups()
    assert host == service["metadata"]["name"]
    assert int(port) == service_ports["db"]["port"]
    # the probe asks the master's own cache service for its statistics
    probe = container(master)["livenessProbe"]["exec"]["command"]
    assert probe[:3] == ["greenpylm", "stats", master_args[2]]
    assert TCP.match(probe[3]).groups() == ("127.0.0.1", bound["db"][1])


# --- running the commands here ---------------------------------------------------------

class Ports:
    """The files' fixed ports, moved to free ones."""

    def __init__(self) -> None:
        self.moved: dict[str, str] = {}

    def __call__(self, args: list[str], hosts: dict[str, str]) -> list[str]:
        def one(match: re.Match) -> str:
            host = hosts.get(match[1], match[1])
            port = self.moved.setdefault(match[2], str(free_port()))
            return f"tcp://{host}:{port}"
        return [TCP.sub(one, hosts.get(arg, arg)) for arg in args]


def greenpylm(args: list[str], env: dict, procs: list) -> Proc:
    process = Proc(["-m", "greenpylm", *args], cwd=DEPLOY, env=env)
    procs.append(process)
    return process


def run_the_cluster(master_args, worker_args, probe, env, procs, worker_ready="working for",
                    workers=1):
    """The master's command and a worker's (as the files give them, moved here),
    then the probe and a call of squares.square through them."""
    master = greenpylm(master_args, env, procs)
    master.wait_for("started")
    worker = greenpylm(worker_args, env, procs)
    worker.wait_for(worker_ready, count=workers)
    master.wait_for("joined", count=workers)
    assert probe[0] == "greenpylm"
    probed = subprocess.run([sys.executable, "-m", "greenpylm", *probe[1:]], env=env,
                            capture_output=True, text=True, timeout=30)
    assert probed.returncode == 0, probed.stderr
    assert '"counters"' in probed.stdout
    db = option(master_args, "--db")
    called = subprocess.run([sys.executable, "-m", "greenpylm", "call", "squares",
                             db.replace("*", "127.0.0.1"), "square", "12", "--timeout", "20"],
                            env=env, capture_output=True, text=True, timeout=30)
    assert (called.returncode, called.stdout) == (0, "144\n"), called.stderr
    return master, worker


def environment(**extra: str) -> dict:
    env = {**os.environ, "GREENPYLM_KEY": KEY, **extra}
    env.pop("GREENPYLM_ADVERTISE", None)
    return {**env, **extra}


def test_the_kubernetes_commands_run_a_cluster(procs):
    found = objects()
    master = container(found[("Deployment", "greenpylm-squares-master")])
    worker = container(found[("Deployment", "greenpylm-squares-workers")])
    ports = Ports()
    hosts = {"greenpylm-squares-master": "localhost"}  # the service's name, here
    master_args = ports(master["args"], hosts)
    worker_args = [a.replace("$(POD_NAME)", "greenpylm-squares-workers-abc12")
                   for a in ports(worker["args"], hosts)]
    probe = ports(master["livenessProbe"]["exec"]["command"], hosts)
    assert probe == ports(master["readinessProbe"]["exec"]["command"], hosts)
    # the pod's IP, from the downward API there, is this host's loopback here
    env = environment(GREENPYLM_ADVERTISE="127.0.0.1")
    master_proc, _ = run_the_cluster(master_args, worker_args, probe, env, procs)
    assert master_proc.logged("joined (capacity 256)")
    assert any("advertised as tcp://127.0.0.1:" in line for line in master_proc.lines)


def test_the_compose_file_runs_a_cluster(procs):
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert set(services) == {"master", "worker"}
    master, worker = services["master"], services["worker"]
    # one image, built from the Dockerfile, from the repository's root
    build = master["build"]
    assert (COMPOSE.parent / build["context"]).resolve() == ROOT
    assert (ROOT / build["dockerfile"]).resolve() == DOCKERFILE
    assert worker["image"] == master["image"] and "build" not in worker
    assert master["env_file"] == worker["env_file"] == "cluster.env"
    assert "GREENPYLM_KEY=" in (COMPOSE.parent / "cluster.env.example").read_text()
    assert worker["depends_on"]["master"]["condition"] == "service_healthy"
    assert master["command"][:3] == ["run", "greenpylm.servers:Master", "squares"]
    assert option(master["command"], "--advertise") == "master"  # the service's name
    assert worker["command"][:2] == ["run", "squares:Squarer"]
    assert TCP.match(option(worker["command"], "--db")).groups() == \
        ("master", TCP.match(option(master["command"], "--db"))[2])
    health = master["healthcheck"]["test"]
    assert health[0] == "CMD"
    ports = Ports()
    hosts = {"master": "127.0.0.1"}
    run_the_cluster(ports(master["command"], hosts), ports(worker["command"], hosts),
                    ports(health[1:], hosts), environment(), procs)


def test_the_dockerfile_copies_what_the_package_and_the_commands_need():
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    copied = [word for line in lines if line.startswith("COPY ")
              for word in shlex.split(line)[1:-1]]
    for name in copied:
        assert (ROOT / name).exists(), f"the Dockerfile copies {name}, which is not there"
    # what pyproject.toml reads while the package builds
    assert {"pyproject.toml", "setup.py", "requirements.txt", "README.md", "LICENSE",
            "greenpylm"} <= set(copied)
    assert "deploy/squares.py" in copied  # squares:Squarer, run from WORKDIR /app
    assert [line for line in lines if line.startswith("WORKDIR")][-1] == "WORKDIR /app"
    assert 'ENTRYPOINT ["greenpylm"]' in lines
    user = [line.split()[1] for line in lines if line.startswith("USER ")]
    for deployment in ("master", "workers"):
        spec = objects()[("Deployment", f"greenpylm-squares-{deployment}")]
        assert str(spec["spec"]["template"]["spec"]["securityContext"]["runAsUser"]) == user[-1]


# --- docs/deploy.md -------------------------------------------------------------------

def test_deploy_md_quotes_every_file_as_it_is():
    """A block after `<!-- file: PATH -->` in docs/deploy.md is PATH's text, whole."""
    lines = (ROOT / "docs" / "deploy.md").read_text().splitlines()
    quoted = {}
    for i, line in enumerate(lines):
        marker = re.match(r"^<!-- file: (\S+) -->$", line)
        if marker:
            assert lines[i + 1].startswith("```"), f"no block after {line}"
            end = lines.index("```", i + 2)
            quoted[marker[1]] = "\n".join(lines[i + 2:end]) + "\n"
    files = {str(p.relative_to(ROOT)) for p in DEPLOY.rglob("*")
             if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts}
    assert set(quoted) == files, "deploy.md should quote each file of deploy/ but the module"
    for name, text in quoted.items():
        assert text == (ROOT / name).read_text(), f"deploy.md's copy of {name} differs from it"


# --- systemd ---------------------------------------------------------------------------

def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


def exec_start(path: Path) -> list[str]:
    return shlex.split(unit(path)["Service"]["ExecStart"].replace("\\\n", " "))


def test_there_is_a_unit():
    assert UNITS


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_the_unit_is_well_formed(path, tmp_path):
    service = unit(path)["Service"]
    assert service["KillSignal"] == "SIGTERM" and service["KillMode"] == "mixed"
    assert service["EnvironmentFile"].startswith("/etc/")
    command = exec_start(path)
    assert Path(command[0]).name == "greenpylm" and command[1:3] == ["run",
                                                                     "greenpylm.servers:Master"]
    assert "--workers" in command and "--worker" in command
    if shutil.which("systemd-analyze") is None:
        pytest.skip("no systemd-analyze here")
    # verify a copy whose program exists here (the unit's is in its own venv)
    here = shutil.which("greenpylm", path=os.path.dirname(sys.executable)) or \
        shutil.which("greenpylm")
    if here is None:
        pytest.skip("no greenpylm script on PATH")
    copy_ = tmp_path / path.name
    copy_.write_text(path.read_text().replace(command[0], here))
    verified = subprocess.run(["systemd-analyze", "verify", str(copy_)], capture_output=True,
                              text=True, timeout=60)
    assert verified.returncode == 0, verified.stderr + verified.stdout
    # a misspelt or misplaced directive is only a warning: "Unknown key ..., ignoring."
    assert "ignoring" not in verified.stderr + verified.stdout, verified.stderr


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_the_units_command_runs_a_master_and_its_workers(path, procs):
    command = exec_start(path)
    ports = Ports()
    args = ports(command[1:], {})
    workers = int(option(args, "--workers"))
    db = option(args, "--db").replace("*", "127.0.0.1")
    process = greenpylm(args, environment(GREENPYLM_ADVERTISE="127.0.0.1"), procs)
    process.wait_for("joined", count=workers)  # its supervisor started them all
    called = subprocess.run([sys.executable, "-m", "greenpylm", "job", "squares", db, "square",
                             "--timeout", "20"], input="".join(f"{i}\n" for i in range(20)),
                            env=environment(), capture_output=True, text=True, timeout=30)
    assert called.returncode == 0, called.stderr
    assert sorted(map(int, called.stdout.split())) == sorted(i * i for i in range(20))
    assert process.stop() == 0  # SIGTERM, as systemd sends it: all stop
    assert len(process.logged("stopped")) == workers + 1
