"""Every code block of README.md and docs/*.md (docs/api.md aside) is run, or says why not.

Conventions (also told in docs/index.md, "Code blocks in these pages"):

* A ```python, ```sh, ```bash or ```console block has, on the line right
  before its opening fence, one of two HTML comments (GitHub does not show
  them; a reader of the source does):

      <!-- run: LABEL -->         this test runs the block; LABEL names it,
                                  once per page
      <!-- not run: REASON -->    the block is not meant to run, and why

  Blocks in other languages (mermaid, yaml, ini, text, ...) are not run here
  (tests/test_manifests.py checks the deployment files that deploy.md quotes).
* A block is one program, or a piece of one: PROGRAMS below says, for each
  page, which blocks run together. A program is background processes (the
  servers, started in order, each waited for until it prints its `ready`
  lines) and one main process, which must exit 0 in time. A process is made
  of pieces: labelled blocks, and code this file adds where a page's block is
  a fragment (the imports it assumes, a `start()`, a client made as in an
  earlier section). Every label is used by some program, and every block
  either runs or says why not.
* Ports: each `tcp://HOST:PORT` or `http://HOST:PORT` (HOST 127.0.0.1,
  localhost, 0.0.0.0 or *) and each `port=PORT` gets a free port, the same
  one everywhere in its program, so the pages keep pylm's fixed ports.
* Output: in a Python block, a `print(...)` whose line ends in a comment
  that is a Python literal (`# b'you sent me a message'`, `# 6`) must print
  that text as a whole line; other comments are prose (`# such as ...`). In
  a ```console block, `$ ` starts a command and the lines after it are what
  it prints.
"""
from __future__ import annotations

import ast
import io
import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from helpers import ROOT, Proc, free_port

PAGES = [ROOT / "README.md"] + sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "api.md")
RUN_LANGUAGES = {"python", "sh", "bash", "console"}
SHELL_LANGUAGES = {"sh", "bash", "console"}
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w+-]*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*(?P<kind>run|not run):\s*(?P<text>.*?)\s*-->\s*$")
ADDRESS = re.compile(r"((?:tcp|http)://(?:127\.0\.0\.1|localhost|0\.0\.0\.0|\*)):(\d{2,5})\b")
PORT_KEYWORD = re.compile(r"\b(port=)(\d{2,5})\b")
MAIN_TIMEOUT = 40.0


@dataclass
class Block:
    page: str
    line: int
    lang: str
    code: str
    kind: str | None  # "run", "not run" or None (no marker)
    text: str  # the label, or the reason


def blocks_of(path: Path) -> list[Block]:
    lines = path.read_text().splitlines()
    found, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening or not opening["lang"]:
            i += 1
            continue
        indent, start = len(opening["indent"]), i
        i += 1
        body = []
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        i += 1
        marker = MARKER.match(lines[start - 1]) if start else None
        page = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
        found.append(Block(page, start + 1, opening["lang"],
                           "\n".join(body) + "\n", marker["kind"] if marker else None,
                           marker["text"] if marker else ""))
    return found


def runnable(path: Path) -> list[Block]:
    return [b for b in blocks_of(path) if b.lang in RUN_LANGUAGES]


# --- what the programs are made of -----------------------------------------------------

@dataclass(frozen=True)
class B:
    """A labelled block of the program's page."""
    label: str


@dataclass(frozen=True)
class Sh:
    """A shell command this file adds (not a page's block)."""
    code: str


@dataclass
class Part:
    pieces: tuple
    background: bool
    ready: tuple = ()  # texts (or (text, count)) a background process prints when up
    args: tuple = ()  # its command-line arguments (a number that is a port is mapped)
    expect: tuple = ()  # lines a main must print, besides those its blocks show


def bg(*pieces, ready=(), args=()) -> Part:
    return Part(pieces, True, tuple([ready] if isinstance(ready, str) else ready), args)


def main(*pieces, expect=()) -> Part:
    return Part(pieces, False, expect=tuple(expect))


@dataclass
class Program:
    page: str
    name: str
    parts: list[Part]
    env: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)  # a file in the program's directory: a block
    in_root: bool = False  # run in the repository (else in a directory of its own)

    def __str__(self) -> str:
        return f"{self.page}: {self.name}"


CLIENT = 'from greenpylm.clients import Client\nclient = Client("server", "tcp://127.0.0.1:5555")\n'
PIPE_CLIENT = ('from greenpylm.clients import Client\n'
               'client = Client("server", "tcp://127.0.0.1:5555", '
               'sub_address="tcp://127.0.0.1:5559")\n')
ADDRESSES = ('db_address="tcp://127.0.0.1:5555", pull_address="tcp://127.0.0.1:5556", '
             'pub_address="tcp://127.0.0.1:5557", worker_pull_address="tcp://127.0.0.1:5558", '
             'worker_push_address="tcp://127.0.0.1:5559"')
SUBSCRIBED = "subscribed to 'server'"
ONE_HUB_PRELUDE = '''
from greenpylm.servers import Master, Pipeline, Worker

class Doubler(Worker):
    def work(self, payload):
        return payload * 2

master = Master("master", "inproc://pull", "inproc://pub", "inproc://worker-pull",
                "inproc://worker-push", "inproc://db")
worker1, worker2 = Doubler("worker1", "inproc://db"), Doubler("worker2", "inproc://db")
pipeline = Pipeline("pipeline", "inproc://pipeline-db", "inproc://pub", "inproc://pipeline-pub",
                    previous="master")
payloads = [b"%d" % i for i in range(20)]
'''
IN_THREAD_PRELUDE = '''
from greenpylm.clients import Client
from greenpylm.servers import Server, Worker

def slow(n):
    return n + 1

Server("server", "inproc://db", "inproc://pull", "inproc://pub").spawn()
client = Client("server", "inproc://db")
'''
SERVER_555X = '''
from greenpylm.servers import Server

class MyServer(Server):
    def foo(self, payload):
        return b"you sent me " + payload

MyServer("server", "tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556", "tcp://127.0.0.1:5557").start()
'''
KEY = {"GREENPYLM_KEY": "a key for test_docs_snippets"}

PROGRAMS = [
    Program("README.md", "server and client", [bg(B("server")), main(B("client"))]),
    Program("README.md", "the demo of the first block", [
        main(Sh("python examples/demo.py"), expect=["eval     -> b'HELLO GREENPYLM!'"])],
        in_root=True),

    Program("docs/guide.md", "one server, one client", [bg(B("server")), main(B("client"))]),
    Program("docs/guide.md", "master and workers", [
        bg(B("master")), bg(B("worker")), main(B("master-client"))]),
    Program("docs/guide.md", "a MuxWorker", [
        bg(B("master")), bg(B("mux-worker")), main(CLIENT, B("mux-call"))]),
    Program("docs/guide.md", "the cache", [bg(B("master")), main(CLIENT, B("cache-client"))]),
    Program("docs/guide.md", "a worker reading the cache", [
        bg(B("master")),
        bg("from greenpylm.servers import Worker\n", B("cache-worker"),
           'MyWorker("worker1", "tcp://127.0.0.1:5555").start()\n'),
        main(CLIENT, 'client.set(b"hello from the cache,", "greeting")\n',
             'print(client.eval("server.foo", b"x"))\n', expect=["b'hello from the cache, x'"])]),
    Program("docs/guide.md", "sessions", [
        bg(B("master")), main(B("sessions"), expect=["no counter outside session alice"])]),
    Program("docs/guide.md", "scatter and gather", [
        bg(B("hooks"), f"MyMaster(name='server', {ADDRESSES}).start()\n"), bg(B("worker")),
        main(CLIENT, B("hooks-call"), expect=["b'MESSAGE 0 PROCESSED BY WORKER1'"])]),
    Program("docs/guide.md", "a pipeline", [
        bg(B("pipe-server")), bg(B("pipe-pipeline"), ready=SUBSCRIBED), main(B("pipe-client"))]),
    Program("docs/guide.md", "a hub", [
        bg(B("pipe-server")), bg(B("hub"), ready=SUBSCRIBED), bg(B("hub-worker")),
        main(B("hub-client"))]),
    Program("docs/guide.md", "a tee and a sink", [
        bg(B("pipe-server")),
        bg(B("tee"), ready=[(SUBSCRIBED, 2), ("subscribed to 'branch'", 2)]),
        main(B("tee-client"), expect=["b'sink got: server saw message 1 on the right'"])]),
    Program("docs/guide.md", "a stream split by topic (the class)", [main(B("stream"))]),
    Program("docs/guide.md", "chained servers", [
        bg(B("chain-first")), bg(B("chain-last")), main(B("chain-client"))]),
    Program("docs/guide.md", "a shipped step in a pipeline", [
        bg(B("pipe-server")), bg(B("pipe-pipeline"), ready=SUBSCRIBED),
        main(PIPE_CLIENT, B("ship"), expect=["b'SERVER SAW KEEP 1'"])], env=KEY),
    Program("docs/guide.md", "generic chained servers", [
        bg(B("ship-chain")), main(B("ship-loop"), expect=["12 squared is 144"])]),
    Program("docs/guide.md", "a cluster in one process", [main(B("one-hub"))]),
    Program("docs/guide.md", "in_thread", [main("from greenpylm.servers import Worker\n",
                                                B("in-thread"))]),
    Program("docs/guide.md", "an HTTP gateway", [
        bg(B("gateway"), ready="started"), bg(B("gateway-worker"), ready="working for"),
        main(B("gateway-curl"))]),
    Program("docs/guide.md", "pylm's gateway", [
        bg(B("pylm-gateway"), ready="started"), bg(B("gateway-worker"), ready="working for"),
        main(B("pylm-gateway-curl"))]),
    Program("docs/guide.md", "HTTP workers", [
        bg(B("http-worker"), args=["9001"], ready="started"),
        bg(B("http-worker"), args=["9002"], ready="started"),
        bg(B("http-master")), main(B("http-client"))]),
    Program("docs/guide.md", "the command line", [bg(B("cli-run")), main(B("cli-calls"))],
            files={"mymodule.py": B("cli-module")}),

    Program("docs/coming-from-pylm.md", "the renamed imports", [main(B("imports"))]),
    Program("docs/coming-from-pylm.md", "logging through logging", [main(B("to-logging"))]),

    Program("docs/one-hub.md", "Cluster", [
        main(ONE_HUB_PRELUDE, B("cluster"), "print(sorted(results)[:2])\n",
             expect=["[b'00', b'1010']"])]),
    Program("docs/one-hub.md", "in_thread", [
        main(IN_THREAD_PRELUDE, B("in-thread"),
             'print(client.eval([("server", in_thread(lambda n: slow(n)))], 41))\n',
             expect=["42"])]),
    Program("docs/one-hub.md", "a client per thread", [
        bg(SERVER_555X), main("import threading\nfrom greenpylm.clients import Client\n",
                              B("threads"), expect=["b'you sent me from a thread'"])]),

    Program("docs/security.md", "per-member certificates", [
        main(B("certificates"), "import os\nprint(sorted(os.listdir('certificates')))\n",
             expect=["['worker-3.key', 'worker-3.key_secret']"])]),
    Program("docs/deploy.md", "one host: a master, its workers, more workers", [
        bg(B("one-host"), ready=[("joined", 2)]), bg(B("more-workers"), ready=[("working for", 2)]),
        main(B("one-host-calls"))], in_root=True),
    Program("docs/deploy.md", "a secret", [main(B("make-key"))]),
    Program("docs/protocol.md", "a shipped function", [
        main(B("area"), 'print(area({"w": 2, "h": 3}))\n', expect=["{'area': 6}"])]),
]


# --- running them ----------------------------------------------------------------------

def labelled(page: str) -> dict[str, Block]:
    return {b.text: b for b in runnable(ROOT / page) if b.kind == "run"}


def source(program: Program, piece) -> tuple[str, str]:
    """(language, code) of one piece."""
    if isinstance(piece, B):
        block = labelled(program.page)[piece.label]
        return ("sh" if block.lang in ("sh", "bash") else block.lang), block.code
    if isinstance(piece, Sh):
        return "sh", piece.code + "\n"
    return "python", textwrap.dedent(piece)


def port_map(texts: list[str]) -> dict[str, str]:
    ports: dict[str, str] = {}
    for text in texts:
        for pattern in (ADDRESS, PORT_KEYWORD):
            for match in pattern.finditer(text):
                if match[2] not in ports:
                    ports[match[2]] = str(free_port())
    return ports


def moved(text: str, ports: dict[str, str]) -> str:
    text = ADDRESS.sub(lambda m: f"{m[1]}:{ports[m[2]]}", text)
    return PORT_KEYWORD.sub(lambda m: f"{m[1]}{ports[m[2]]}", text)


def shown_output(code: str) -> list[str]:
    """The lines a Python block says its prints print (comments that are literals)."""
    comments = {}
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string[1:].strip()
    shown = []
    for node in ast.walk(ast.parse(code)):
        if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name) and node.value.func.id == "print"):
            comment = comments.get(node.end_lineno, "")
            try:
                ast.literal_eval(comment)
            except (ValueError, SyntaxError):
                continue
            shown.append(comment)
    return shown


def shell_commands(code: str) -> list[str]:
    """The commands of a shell block, continuation lines joined, comments dropped."""
    joined = code.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        line = line.strip()
        if line.startswith("$ "):
            line = line[2:]
        words = shlex.split(line, comments=True)
        if words:
            commands.append(line)
    return commands


def console_script(code: str) -> tuple[str, list[str]]:
    """The commands of a console block, and the output lines it shows."""
    commands, output = [], []
    for line in code.splitlines():
        if line.startswith("$ "):
            commands.append(line[2:])
        elif line.strip():
            output.append(line.strip())
    return "\n".join(commands) + "\n", output


EXEC_BASH = "import os, sys; os.execvp('bash', ['bash', '-c', sys.argv[1]])"


def run_main(command: list[str], cwd: Path, env: dict, timeout: float) -> tuple[int, str, str]:
    process = subprocess.Popen(command, cwd=cwd, env=env, text=True, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        return -1, out, err + f"\n[killed after {timeout:g} s]"
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # whatever it left behind
        except ProcessLookupError:
            pass
    return process.returncode, out, err


def run_program(program: Program, directory: Path, procs: list) -> None:
    resolved = [[source(program, piece) for piece in part.pieces] for part in program.parts]
    files = {name: source(program, piece)[1] for name, piece in program.files.items()}
    ports = port_map([code for part in resolved for _, code in part] + list(files.values()))
    cwd = ROOT if program.in_root else directory
    for name, code in files.items():
        (cwd / name).write_text(moved(code, ports))
    env = {**os.environ, **program.env, "PYTHONUNBUFFERED": "1",
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    # `export NAME=VALUE` lines of background shell blocks hold for the whole program
    for part, pieces in zip(program.parts, resolved):
        for lang, code in pieces:
            if part.background and lang != "python":
                for command in shell_commands(code):
                    if command.startswith("export "):
                        name, _, value = command[len("export "):].partition("=")
                        env[name] = shlex.split(value)[0] if value else ""
    started: list[Proc] = []

    def report() -> str:
        for p in started:  # what they printed so far (Proc collects it as it is waited for)
            p.popen.poll() is None or p._reader.join(5)
            while not p._queue.empty():
                line = p._queue.get_nowait()
                if line is not None:
                    p.lines.append(line)
        return "".join(f"\n--- background {p.name[-60:]!r}:\n{p.output()[-3000:]}"
                       for p in started)

    for index, (part, pieces) in enumerate(zip(program.parts, resolved)):
        languages = {lang for lang, _ in pieces}
        assert len(languages) == 1, f"{program}: part {index} mixes {languages}"
        lang = languages.pop()
        code = moved("".join(code for _, code in pieces), ports)
        args = [ports.get(a, a) for a in part.args]
        if part.background:
            if lang == "python":
                script = directory / f"background_{index}.py"
                script.write_text(code)
                commands = [[str(script), *args]]
            else:
                commands, here = [], cwd  # `cd DIR` moves the commands after it
                for command in shell_commands(code):
                    if command.startswith("cd "):
                        here = here / shlex.split(command)[1]
                    elif not command.startswith("export "):
                        commands.append((["-c", EXEC_BASH, "exec " + command], here))
            for command in commands:
                command, where = command if isinstance(command, tuple) else (command, cwd)
                process = Proc(command, cwd=where, env=env)
                procs.append(process)
                started.append(process)
            for ready in part.ready:
                text, count = ready if isinstance(ready, tuple) else (ready, 1)
                started[-1].wait_for(text, timeout=30, count=count)
            continue
        assert index == len(program.parts) - 1, f"{program}: the main part comes last"
        expected = list(part.expect)
        if lang == "python":
            script = directory / "main.py"
            script.write_text(code)
            command = [sys.executable, str(script), *args]
            for piece in part.pieces:
                if isinstance(piece, B):
                    expected += shown_output(source(program, piece)[1])
        elif lang == "console":
            script, shown = console_script(code)
            expected += shown
            command = ["bash", "-e", "-o", "pipefail", "-c", script]
        else:
            command = ["bash", "-e", "-o", "pipefail", "-c", code]
        code_, out, err = run_main(command, cwd, env, MAIN_TIMEOUT)
        context = (f"\n--- main's stdout:\n{out[-3000:]}\n--- main's stderr:\n{err[-3000:]}"
                   f"{report()}")
        assert code_ == 0, f"{program}: the main part exited with {code_}{context}"
        printed = {line.strip() for line in out.splitlines()}
        missing = [line for line in expected if line not in printed]
        assert not missing, f"{program}: lines not printed: {missing}{context}"


@pytest.mark.parametrize("program", PROGRAMS, ids=str)
def test_the_program_runs(program, tmp_path, procs):
    run_program(program, tmp_path, procs)


# --- the markers -----------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_block_runs_or_says_why_not(page):
    blocks = runnable(page)
    unmarked = [f"{b.page}:{b.line}" for b in blocks if b.kind is None]
    assert not unmarked, f"blocks with neither '<!-- run: LABEL -->' nor " \
                         f"'<!-- not run: REASON -->' right before them: {unmarked}"
    assert all(b.text for b in blocks), "a marker without its label or reason"
    labels = [b.text for b in blocks if b.kind == "run"]
    assert len(labels) == len(set(labels)), f"a label used twice in {page.name}: {labels}"
    page_name = str(page.relative_to(ROOT))
    used = {piece.label for program in PROGRAMS if program.page == page_name
            for part in program.parts for piece in part.pieces if isinstance(piece, B)}
    used |= {piece.label for program in PROGRAMS if program.page == page_name
             for piece in program.files.values()}
    assert used <= set(labels), f"programs name blocks {page.name} does not have: " \
                                f"{sorted(used - set(labels))}"
    assert set(labels) <= used, f"blocks marked run that no program runs: " \
                                f"{sorted(set(labels) - used)}"


def test_the_pages_have_blocks_and_the_parser_finds_markers(tmp_path):
    """The parser itself: a marker right before a fence counts, one further up does not."""
    page = tmp_path / "page.md"
    page.write_text("<!-- run: a -->\n```python\nx = 1\n```\n\n<!-- not run: why -->\n\n"
                    "```sh\nls\n```\n  <!-- not run: nested -->\n  ```console\n  $ ls\n  ```\n")
    found = [(b.lang, b.kind, b.text, b.code) for b in blocks_of(page)]
    assert found == [("python", "run", "a", "x = 1\n"), ("sh", None, "", "ls\n"),
                     ("console", "not run", "nested", "$ ls\n")]
    assert sum(len(runnable(p)) for p in PAGES) > 40


# --- the examples' READMEs ---------------------------------------------------------------

EXAMPLE_READMES = sorted((ROOT / "examples").glob("*/README.md"))


@pytest.mark.parametrize("readme", EXAMPLE_READMES, ids=lambda p: p.parent.name)
def test_an_example_readme_names_its_scripts_from_the_repository_root(readme):
    """`python X.py ...` in an example's README runs from the repository's root (as
    its other commands do): X is examples/FOLDER/SCRIPT.py, and the script is there.
    (tests/test_examples*.py run the examples themselves.)"""
    scripts = re.findall(r"\bpython (\S+\.py)\b", readme.read_text())
    assert scripts, f"{readme} says no script to run"
    wrong = [s for s in scripts if not s.startswith("examples/") or not (ROOT / s).is_file()]
    assert not wrong, f"{readme.relative_to(ROOT)}: not scripts from the repository's root: " \
                      f"{wrong}"


@pytest.mark.parametrize("readme", EXAMPLE_READMES, ids=lambda p: p.parent.name)
def test_an_example_readme_draws_its_processes(readme):
    text = readme.read_text()
    assert text.count("```mermaid") == 1, f"{readme.relative_to(ROOT)}: one drawing"
    drawing = text.split("```mermaid", 1)[1].split("```", 1)[0]
    # each script of the folder is a process of the drawing
    missing = sorted(p.name for p in readme.parent.glob("*.py") if p.name not in drawing)
    assert not missing, f"{readme.relative_to(ROOT)}: the drawing leaves out {missing}"
