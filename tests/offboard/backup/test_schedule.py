"""`offboard schedule`: the cron line and the systemd units parse back to the commands, with
hostile paths (spaces, quotes, %, $, backslashes), in each format's own quoting."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from offboard.backup import schedule as sched
from offboard.cli import cli, maintain
from offboard.errors import ConfigError

OFFBOARD = "/opt/offboard/bin/offboard"
HOSTILE = 'it\'s a "dest" 100% $HOME \\%x; ~'


def run(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    old = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)
    return result.exit_code, result.stdout, result.stderr


def schedule(*args: str, cwd: Path | None = None) -> dict[str, object]:
    code, out, err = run("schedule", "--offboard", OFFBOARD, "--json", *args, cwd=cwd)
    assert code == 0, err
    result: dict[str, object] = json.loads(out)
    return result


# -- how cron and systemd read what we write ------------------------------------------------
def cron_decode(command: str) -> str:
    """What cron (Vixie/ISC cron, cronie) hands to the shell: ``\\%`` becomes ``%``; an
    unescaped ``%`` would end the command (the rest going to standard input)."""
    out: list[str] = []
    escaped = False
    for ch in command:
        if escaped:
            if ch == "%":
                out[-1] = "%"
            else:
                out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
            out.append(ch)
        elif ch == "%":
            raise AssertionError(f"unescaped % in {command!r}")
        else:
            out.append(ch)
    return "".join(out)


def systemd_words(line: str) -> list[str]:
    """An ExecStart= value split as systemd does (systemd.syntax(7), systemd.service(5)):
    specifiers (``%%``), then words (double quotes with C escapes, ``\\;``), then ``$$``."""

    def specifier(m: re.Match[str]) -> str:
        assert m[1] == "%", f"specifier %{m[1]} in {line!r}"
        return "%"

    text = re.sub(r"%(.)", specifier, line)
    words: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == " ":
            i += 1
        elif text.startswith("\\;", i) and text[i + 2 : i + 3] in ("", " "):
            words.append(";")
            i += 2
        elif text[i] == '"':
            j, buf = i + 1, []
            while text[j] != '"':
                if text[j] == "\\":
                    buf.append({"\\": "\\", '"': '"'}[text[j + 1]])
                    j += 2
                else:
                    buf.append(text[j])
                    j += 1
            assert text[j + 1 : j + 2] in ("", " ")
            words.append("".join(buf))
            i = j + 1
        else:
            j = text.find(" ", i)
            j = len(text) if j < 0 else j
            word = text[i:j]
            assert not set(word) & set("\"'\\;"), word
            words.append(word)
            i = j

    def dollar(m: re.Match[str]) -> str:
        assert m[1] == "$", f"variable ${m[1]} in {line!r}"
        return "$"

    return [re.sub(r"\$(.)", dollar, w) for w in words]


def unit(text: str) -> dict[str, dict[str, list[str]]]:
    """A unit file's sections and settings (a setting may repeat); comments dropped."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


def cron_fields(text: str) -> list[str]:
    (line,) = [x for x in text.splitlines() if x and not x.startswith(("#", "SHELL="))]
    return line.split(" ", 5)


def commands_of(shell: str) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for word in shlex.split(shell):
        if word == "&&":
            out.append([])
        else:
            out[-1].append(word)
    return out


# -- the quoting functions ------------------------------------------------------------------
printable = st.text(
    st.characters(blacklist_categories=["Cc", "Cs"], blacklist_characters="\x7f"), min_size=1
)
nasty = st.text(st.sampled_from(list("a %$\\'\";~&|`*?#=é")), min_size=1)


@settings(max_examples=400, deadline=None)
@given(st.one_of(printable, nasty))
def test_cron_quoting_round_trips(arg: str) -> None:
    quoted = sched.cron_quote(arg)
    assert re.search(r"(?<!\\)%", quoted) is None  # every % escaped
    assert shlex.split(cron_decode(quoted)) == [arg]


@settings(max_examples=400, deadline=None)
@given(st.one_of(printable, nasty))
def test_systemd_quoting_round_trips(arg: str) -> None:
    assert systemd_words(f"/bin/x {sched.systemd_quote(arg)} end") == ["/bin/x", arg, "end"]


@pytest.mark.parametrize(
    "arg", ["a\\%b", "\\%", "%", "50% off", "it's", '"', "\\", "~root", "$HOME", "a b", "é;"]
)
def test_cron_quoting_through_a_real_shell(arg: str) -> None:
    shell = shutil.which("sh")
    assert shell is not None
    line = cron_decode(sched.cron_quote(arg))
    done = subprocess.run(
        [shell, "-c", f"printf '%s\\0' {line}"], capture_output=True, check=True, env={}
    )
    assert done.stdout == arg.encode() + b"\0"


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "tab\there", "nul\0"])
def test_control_characters_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="control character"):
        sched.cron_quote(bad)
    with pytest.raises(ConfigError, match="control character"):
        sched.systemd_quote(bad)


def test_a_lone_semicolon_is_escaped_for_systemd() -> None:
    assert sched.systemd_quote(";") == "\\;"
    assert systemd_words("/bin/x \\; y") == ["/bin/x", ";", "y"]


# -- the command ------------------------------------------------------------------------------
def test_cron_line_round_trips_with_hostile_paths(tmp_path: Path) -> None:
    dest = tmp_path / HOSTILE
    out = schedule(
        "--source",
        "sqlite:///" + str(tmp_path / "my 100% db.db"),
        "--dest",
        str(dest),
        "--sign-key",
        str(tmp_path / "key $1.key"),
        "--env-file",
        str(tmp_path / "env 50%"),
        "--keep-daily",
        "7",
        "--keep-weekly",
        "unlimited",
        "--format",
        "cron",
    )
    assert set(out) == {"commands", "cron"}
    minute, hour, dom, month, dow, command = cron_fields(str(out["cron"]))
    assert (minute, hour, dom, month, dow) == ("30", "2", "*", "*", "*")
    assert re.search(r"(?<!\\)%", command) is None
    parsed = commands_of(cron_decode(command))
    assert parsed[:3] == [["set", "-a"], [".", str(tmp_path / "env 50%")], ["set", "+a"]]
    backup, prune = parsed[3:]
    assert backup == [
        OFFBOARD,
        "backup",
        "sqlite:///" + str(tmp_path / "my 100% db.db"),
        "--accounts",
        "all",
        "--dest",
        str(dest),
        "--sign-key",
        str(tmp_path / "key $1.key"),
        "--report",
        sched.DEFAULT_REPORT,
    ]
    keep = ["--keep-daily", "7", "--keep-weekly", "unlimited"]
    assert prune == [OFFBOARD, "prune", str(dest), *keep]
    assert out["commands"] == [backup, prune]


def test_cron_with_a_user_is_for_cron_d() -> None:
    out = schedule(
        *("--source", "postgresql://backup@db.example/saas?documents=/srv/docs"),
        *("--dest", "s3://bucket/backups", "--sign-key", "/etc/offboard/sign.key"),
        *("--user", "offboard", "--at", "23:05", "--format", "cron", "--accounts", "a,b"),
    )
    text = str(out["cron"])
    assert "/etc/cron.d/offboard-backup" in text and "SHELL=/bin/sh" in text
    fields = cron_fields(text)
    assert fields[:5] == ["5", "23", "*", "*", "*"]
    user, command = fields[5].split(" ", 1)
    assert user == "offboard"
    (backup,) = commands_of(cron_decode(command))  # no prune without a policy
    assert backup[2:6] == [
        "postgresql://backup@db.example/saas?documents=/srv/docs",
        "--accounts",
        "a,b",
        "--dest",
    ]
    assert backup[6] == "s3://bucket/backups"


def test_systemd_units_round_trip_with_hostile_paths(tmp_path: Path) -> None:
    dest = tmp_path / "back ups 100%"
    out = schedule(
        *("--source", str(tmp_path / HOSTILE / "saas.db"), "--dest", str(dest)),
        *("--sign-key", str(tmp_path / HOSTILE / "k.key"), "--user", "offboard"),
        *("--env-file", str(tmp_path / "env 50%"), "--keep-last", "3", "--format", "systemd"),
        *("--random-delay", "45", "--at", "4:07"),
    )
    assert set(out) == {"commands", "service", "timer"}
    service = unit(str(out["service"]))
    s = service["Service"]
    assert s["Type"] == ["oneshot"] and s["User"] == ["offboard"]
    assert [systemd_words(line) for line in s["ExecStart"]] == out["commands"]
    assert s["EnvironmentFile"] == [str(tmp_path / "env 50%%")]
    for key in (
        "NoNewPrivileges",
        "PrivateTmp",
        "PrivateDevices",
        "ProtectKernelTunables",
        "RestrictSUIDSGID",
        "LockPersonality",
    ):
        assert s[key] == ["yes"], key
    assert s["ProtectSystem"] == ["strict"] and s["ProtectHome"] == ["read-only"]
    assert s["CapabilityBoundingSet"] == [""] and s["UMask"] == ["0077"]
    assert s["ReadWritePaths"] == [f'"{str(dest).replace("%", "%%")}"']
    assert s["LogsDirectory"] == ["offboard"]  # for the default report
    timer = unit(str(out["timer"]))
    assert timer["Timer"]["OnCalendar"] == ["*-*-* 04:07:00"]
    assert timer["Timer"]["Persistent"] == ["true"]
    assert timer["Timer"]["RandomizedDelaySec"] == ["45min"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]


def test_a_destination_a_unit_cannot_name_is_refused_for_systemd(tmp_path: Path) -> None:
    args = ("--source", "/s.db", "--dest", str(tmp_path / HOSTILE), "--sign-key", "/k.key")
    code, _, err = run("schedule", *args, "--format", "systemd")
    assert code == 2 and "quotes and backslashes" in err
    code, _, _ = run("schedule", *args, "--format", "cron")
    assert code == 0


def test_read_write_paths_for_a_local_destination(tmp_path: Path) -> None:
    dest = tmp_path / "backups 100%"
    out = schedule(
        *("--source", "s.db", "--dest", f"file://{dest}", "--sign-key", "k.key"),
        *("--report", str(tmp_path / "reports" / "r.json"), "--format", "systemd"),
        cwd=tmp_path,
    )
    s = unit(str(out["service"]))["Service"]
    assert s["ReadWritePaths"] == [
        f'"{str(dest).replace("%", "%%")}"',
        str(tmp_path / "reports"),
    ]
    assert "LogsDirectory" not in s and "User" not in s
    assert systemd_words(s["ExecStart"][0])[2] == str(tmp_path / "s.db")  # made absolute
    out = schedule("--source", "s.db", "--dest", "s3://b/p", "--sign-key", "k.key", cwd=tmp_path)
    s = unit(str(out["service"]))["Service"]
    assert "ReadWritePaths" not in s and s["LogsDirectory"] == ["offboard"]
    # the locks of a run into s3:// go to $XDG_STATE_HOME: the unit's state directory
    assert s["StateDirectory"] == ["offboard"] and s["Environment"] == ["XDG_STATE_HOME=%S"]


def test_relative_paths_are_made_absolute(tmp_path: Path) -> None:
    out = schedule(
        *("--source", "sqlite:///demo/x.db", "--dest", "backups", "--sign-key", "k.key"),
        *("--report", "r.json", "--env-file", "env"),
        cwd=tmp_path,
    )
    backup = out["commands"][0]  # type: ignore[index]
    assert backup[2] == f"sqlite:///{tmp_path}/demo/x.db"
    assert backup[6] == str(tmp_path / "backups") and backup[8] == str(tmp_path / "k.key")
    assert backup[10] == str(tmp_path / "r.json")
    assert f"EnvironmentFile={tmp_path / 'env'}" in str(out["service"])


def test_text_output_has_every_piece(tmp_path: Path) -> None:
    code, out, _ = run(
        *("schedule", "--source", "s.db", "--dest", "d", "--sign-key", "k.key"), cwd=tmp_path
    )
    assert code == 0
    assert "* * * " in out and "[Service]" in out and "[Timer]" in out
    assert "systemctl enable --now offboard-backup.timer" in out
    assert sched.default_command()[0] in out  # this installation's offboard by default


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--at", "25:00"), "--at"),
        (("--at", "2pm"), "--at"),
        (("--name", "a/b"), "--name"),
        (("--name", "backup.nightly"), "--name"),
        (("--user", "root; rm"), "--user"),
        (("--source", "postgresql://u:secret@db/x"), "password"),
        (("--dest", "ftp://x/y"), "--dest"),
        (("--keep-daily", "x"), "--keep-daily"),
        (("--accounts", "a\nb"), "control character"),
    ],
)
def test_bad_options_are_refused(args: tuple[str, ...], message: str) -> None:
    base = {"--source": "/s.db", "--dest": "/d", "--sign-key": "/k.key"}
    for key, value in zip(args[::2], args[1::2], strict=True):
        base[key] = value
    code, _, err = run("schedule", *[x for kv in base.items() for x in kv])
    assert code == 2 and message in err


def test_the_cli_default_report_is_the_module_default() -> None:
    assert maintain._DEFAULT_REPORT == sched.DEFAULT_REPORT


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze absent")
@pytest.mark.parametrize("local", [True, False])
def test_systemd_analyze_accepts_the_units(tmp_path: Path, local: bool) -> None:
    executable = sched.default_command()[0]
    dest = tmp_path / "back ups 50%"
    dest.mkdir()
    code, out, err = run(
        *("schedule", "--json", "--format", "systemd", "--offboard", executable),
        *("--source", str(tmp_path / "s $x.db"), "--sign-key", "/k\\%y.key"),
        *("--dest", str(dest) if local else "s3://bucket/pre fix%"),
        *("--user", "root", "--env-file", str(tmp_path / "env 1%"), "--keep-daily", "7"),
    )
    assert code == 0, err
    texts = json.loads(out)
    (tmp_path / "env 1%").write_text("OFFBOARD_PASSPHRASE=x\n")
    service, timer = tmp_path / "offboard-backup.service", tmp_path / "offboard-backup.timer"
    service.write_text(texts["service"])
    timer.write_text(texts["timer"])
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(service), str(timer)],
        capture_output=True,
        text=True,
        check=False,
    )
    messages = done.stdout + done.stderr
    assert done.returncode == 0, messages
    assert "ignoring" not in messages.lower() and "unknown" not in messages.lower(), messages
