"""greenpylm's logging is a good citizen: importing it configures nothing, its
servers never touch the application's loguru or `logging` set-up, and its
records go where a switch says (FORMAT lines on stderr by default, JSON
lines, or `logging`), filtered by each server's level or $GREENPYLM_LOG_LEVEL.

Each check runs a fresh Python process (`run`): logging state is global to a
process, and stderr must be read apart from stdout.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from greenpylm.log import level_number, logger_name
from helpers import ROOT

pytestmark = pytest.mark.timeout(90)

#: a FORMAT line, without colours (stderr is a pipe here)
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \| (\w+) +\| (\S+?)\.(\S+) - (.*)$")

IMPORT_ALL = """
import importlib, json, logging, pkgutil
from loguru import logger as app

def state():
    loggers = {name: (l.level, list(l.handlers), l.propagate, l.disabled)
               for name, l in logging.Logger.manager.loggerDict.items()
               if isinstance(l, logging.Logger)}
    return dict(loguru=(sorted(app._core.handlers), app._core.min_level,
                        sorted(app._core.levels)),
                root=(list(logging.root.handlers), logging.root.level),
                globals=(logging.root.manager.disable, logging.getLoggerClass(),
                         logging.getLogRecordFactory(), logging.lastResort),
                loggers=loggers)

before = state()
import greenpylm
names = [m.name for m in pkgutil.walk_packages(greenpylm.__path__, "greenpylm.")
         if not m.name.endswith("__main__")]  # a __main__ would run the command line
for name in names:
    importlib.import_module(name)
after = state()
changed = [key for key in ("loguru", "root", "globals") if before[key] != after[key]]
changed += [name for name, config in before["loggers"].items()
            if after["loggers"][name] != config]
changed += [name for name, (level, handlers, _, _) in after["loggers"].items()
            if name.startswith("greenpylm") and (level or handlers)]
print(json.dumps({"modules": len(names), "changed": changed}))
"""

#: an application: servers "quiet" (INFO) and "loud" (DEBUG), each called once by
#: a client; argv[1] says how the application sets greenpylm's logging up
APP = """
import json, logging, sys
from loguru import logger as app
HANDLERS = sorted(app._core.handlers)
mode = sys.argv[1]
kept = []

class Keep(logging.Handler):
    def emit(self, record):
        kept.append(dict(name=record.name, level=record.levelno, server=record.server,
                         part=record.part, message=record.getMessage(),
                         exc=self.format(record) if record.exc_info else None))

if mode == "logging" or mode == "env-logging":
    logging.basicConfig(level=logging.DEBUG, handlers=[Keep()])
import greenpylm.log
from greenpylm.clients import Client
from greenpylm.servers import Server
untouched = [sorted(app._core.handlers) == HANDLERS]
if mode == "logging":
    greenpylm.log.to_logging()
elif mode == "json":
    greenpylm.log.to_json()
elif mode == "none":
    greenpylm.log.setup(sink=None)
elif mode == "sink":
    greenpylm.log.setup(sink=lambda line: kept.append(str(line)))

class Talker(Server):
    def foo(self, payload):
        self.logger.debug("debug from %s", self.name)
        self.logger.info("info from %s", self.name)
        try:
            raise KeyError("k")
        except KeyError:
            self.logger.exception("failed in %s", self.name)
        return payload

for name, level in [("quiet", "INFO"), ("loud", "DEBUG")]:
    server = Talker(name, f"inproc://{name}-db", f"inproc://{name}-pull",
                    f"inproc://{name}-pub", log_level=level)
    server.spawn()
    with Client(name, f"inproc://{name}-db", logging_level=level) as client:
        assert client.eval(f"{name}.foo", b"x", timeout=5) == b"x"
    server.stop()
untouched.append(sorted(app._core.handlers) == HANDLERS)
app.info("the application's own line")
print(json.dumps(dict(untouched=untouched, own=greenpylm.log.logger is not app, kept=kept)))
"""


def run(code: str, *argv: str, **env: str) -> subprocess.CompletedProcess:
    """`code` run by a new Python, `env` added to (and GREENPYLM_LOG* removed
    from) this one's environment; its stdout and stderr apart."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("GREENPYLM_LOG")}
    return subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=60)


def app(mode: str, **env: str) -> tuple[dict, str]:
    """Run APP in `mode`: what it printed (JSON) and its stderr."""
    done = run(APP, mode, **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def lines(stderr: str) -> list[tuple[str, str, str, str]]:
    """The FORMAT lines of `stderr`, as (level, server, part, message)."""
    return [m.groups() for m in map(LINE.match, stderr.splitlines()) if m]


def test_importing_every_module_changes_no_logging_state():
    done = run(IMPORT_ALL)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["modules"] > 30  # the walk did find greenpylm's modules
    assert report["changed"] == []


def test_servers_and_clients_leave_the_applications_loguru_alone():
    out, stderr = app("default")
    assert out["own"], "greenpylm fell back to loguru.logger (private API changed?)"
    assert out["untouched"] == [True, True]  # after import; after servers and a client
    # the application's handler 0 still prints its lines, and none of greenpylm's
    assert "__main__:<module>" in stderr and "the application's own line" in stderr
    assert stderr.count("quiet.server - started") == 1


def test_default_output_is_format_lines_on_stderr_filtered_by_log_level():
    out, stderr = app("default")
    seen = lines(stderr)
    assert ("INFO", "quiet", "server", "info from quiet") in seen
    assert any(s[:3] == ("INFO", "quiet", "server") and s[3].startswith("started: ")
               for s in seen)
    assert ("DEBUG", "loud", "server", "debug from loud") in seen
    assert ("DEBUG", "client:loud", "client") in [s[:3] for s in seen]
    assert not [s for s in seen if s[0] == "DEBUG" and "quiet" in s[1]]
    assert ("ERROR", "quiet", "server", "failed in quiet") in seen
    assert "KeyError: 'k'" in stderr
    assert out["kept"] == []


@pytest.mark.parametrize("mode, env", [("logging", {}),
                                       ("env-logging", {"GREENPYLM_LOG": "logging"})])
def test_to_logging_hands_records_to_the_standard_library(mode, env):
    out, stderr = app(mode, **env)
    assert out["untouched"] == [True, True]
    kept = out["kept"]
    started = [r for r in kept if r["message"].startswith("started: ")]
    assert [(r["name"], r["level"], r["server"], r["part"]) for r in started] == [
        ("greenpylm.quiet", 20, "quiet", "server"), ("greenpylm.loud", 20, "loud", "server")]
    messages = {(r["name"], r["level"], r["message"]) for r in kept}
    assert ("greenpylm.loud", 10, "debug from loud") in messages
    assert not [r for r in kept if r["level"] < 20 and "quiet" in r["server"]]
    failed = [r for r in kept if r["message"] == "failed in quiet"]
    assert [r["level"] for r in failed] == [40] and "KeyError: 'k'" in failed[0]["exc"]
    # greenpylm printed nothing: stderr has the application's loguru line only
    assert [line for line in stderr.splitlines() if "application's own line" not in line] == []


@pytest.mark.parametrize("mode, env", [("json", {}), ("default", {"GREENPYLM_LOG": "json"})])
def test_json_lines_honour_log_level(mode, env):
    out, stderr = app(mode, **env)
    ours = [line for line in stderr.splitlines() if "application's own line" not in line]
    records = [json.loads(line)["record"] for line in ours]  # every line is one JSON object
    seen = [(r["level"]["name"], r["extra"]["server"], r["message"]) for r in records]
    assert ("INFO", "quiet", "info from quiet") in seen
    assert ("DEBUG", "loud", "debug from loud") in seen
    assert not [s for s in seen if s[0] == "DEBUG" and "quiet" in s[1]]
    assert json.loads(ours[0])["text"].startswith(tuple("0123456789"))  # FORMAT, no colours
    assert out["untouched"] == [True, True]


@pytest.mark.parametrize("forced", ["DEBUG", "warning", "30"])
def test_level_variable_overrides_every_servers_and_clients_level(forced):
    _, stderr = app("default", GREENPYLM_LOG_LEVEL=forced)
    seen = lines(stderr)
    levels = {(level, server) for level, server, _, _ in seen}
    if forced == "DEBUG":
        assert {("DEBUG", "quiet"), ("DEBUG", "client:quiet")} <= levels
    else:  # WARNING: not even the INFO "started" lines, nor the DEBUG ones of "loud"
        assert {("ERROR", "quiet"), ("ERROR", "loud")} <= levels
        assert not [level for level, _ in levels if level in ("DEBUG", "INFO")]


@pytest.mark.parametrize("variable, value", [("GREENPYLM_LOG_LEVEL", "LOUD"),
                                             ("GREENPYLM_LOG", "xml")])
def test_a_bad_variable_is_named_in_the_error(variable, value):
    done = run(APP, "default", **{variable: value})
    assert done.returncode != 0
    assert f"ValueError: {variable}={value!r} is not" in done.stderr


def test_setup_sink_none_keeps_greenpylm_off_stderr():
    out, stderr = app("none")
    assert [line for line in stderr.splitlines() if "application's own line" not in line] == []
    assert out["untouched"] == [True, True]


def test_setup_with_a_sink_sends_filtered_format_lines_there():
    out, stderr = app("sink")
    seen = lines("".join(out["kept"]))
    assert ("INFO", "quiet", "server", "info from quiet") in seen
    assert ("DEBUG", "loud", "server", "debug from loud") in seen
    assert not [s for s in seen if s[0] == "DEBUG" and "quiet" in s[1]]
    assert not lines(stderr)


FALLBACK = """
import loguru._logger
def refuse(*args, **kwargs):
    raise TypeError("another loguru")
loguru._logger.Core = refuse  # as if loguru's private constructors had changed
from loguru import logger as app
import greenpylm.log
print(greenpylm.log.logger is app)
greenpylm.log.setup("s", "INFO")
log = greenpylm.log.get_logger("s", "p")
log.debug("hidden")
log.info("shown")
"""


def test_another_loguru_falls_back_to_the_shared_logger_as_before():
    done = run(FALLBACK)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
    assert lines(done.stderr) == [("INFO", "s", "p", "shown")]


def test_logger_names_keep_a_server_one_level_of_the_tree():
    assert logger_name("master") == "greenpylm.master"
    assert logger_name("eu.master") == "greenpylm.eu_master"
    assert level_number("warning") == 30 and level_number(25) == 25
