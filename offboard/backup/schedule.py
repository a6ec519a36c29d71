"""``offboard schedule``: the cron line, or the systemd service and timer, of the nightly backup.

The job runs ``offboard backup SOURCE --accounts ... --dest DEST --sign-key KEY --report FILE``
and then, when a retention policy is given and the backup succeeded, ``offboard prune DEST
--keep-...``. Every path is made absolute (a job does not run in the folder it was planned in)
and quoted for its format:

* cron: POSIX shell quoting (:func:`shlex.quote`), then every ``%`` written ``\\%`` (cron turns
  an unescaped ``%`` into a new line and feeds the rest to standard input). An argument where
  a backslash comes right before a ``%`` is quoted in pieces around the ``%``, so that no
  backslash ever precedes one (cron would read ``\\%`` as an escaped ``%``);
* systemd (``ExecStart=``): every argument that is not plain is put in double quotes with
  ``\\`` and ``"`` escaped; ``%`` is written ``%%`` (specifiers) and ``$`` ``$$`` (environment
  variables); a lone ``;`` is written ``\\;``. ``ReadWritePaths=`` gets ``%%`` and quotes
  around a path with spaces (a path with quotes or backslashes is refused: a unit cannot make
  it writable); ``EnvironmentFile=``, whose value is taken whole, gets ``%%`` only.

Values holding control characters (a new line above all) are refused: no format can hold them.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from offboard.backup.retention import RULES, UNLIMITED, Policy
from offboard.errors import ConfigError

__all__ = [
    "DEFAULT_REPORT",
    "Schedule",
    "cron_entry",
    "cron_quote",
    "default_command",
    "parse_at",
    "systemd_quote",
    "systemd_service",
    "systemd_timer",
]

DEFAULT_REPORT = "/var/log/offboard/backup-report.json"
_LOGS = "/var/log/offboard"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")
_SYSTEMD_PLAIN = re.compile(r"[A-Za-z0-9_@+=:,./-]+")


def _printable(what: str, value: str) -> str:
    if _CONTROL.search(value):
        raise ConfigError(f"{what} {value!r}: holds a control character (a new line?)")
    return value


# -- quoting ------------------------------------------------------------------------------------
def cron_quote(arg: str) -> str:
    """``arg`` as one word of a crontab command: shell-quoted, ``%`` escaped."""
    _printable("argument", arg)
    if "\\%" in arg:
        text = "%".join(shlex.quote(piece) if piece else "" for piece in arg.split("%"))
    else:
        text = shlex.quote(arg)
    return _cron_escape(text)


def _cron_escape(text: str) -> str:
    out: list[str] = []
    escaping = False  # cron's state: the last backslash it read starts an escape
    for ch in text:
        if ch == "%":
            assert not escaping, "a backslash before % (cron_quote avoids it)"
            out.append("\\%")
        else:
            out.append(ch)
        escaping = ch == "\\" and not escaping
    return "".join(out)


def cron_command(commands: list[list[str]]) -> str:
    """Commands run one after the other, each only if the previous one succeeded."""
    return " && ".join(" ".join(cron_quote(a) for a in argv) for argv in commands)


def systemd_quote(arg: str) -> str:
    """``arg`` as one word of an ``ExecStart=`` line (see the module doc)."""
    _printable("argument", arg)
    if arg == ";":
        return "\\;"
    text = arg.replace("%", "%%").replace("$", "$$")
    if _SYSTEMD_PLAIN.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _systemd_path(path: str) -> str:
    """A path for ``ReadWritePaths=`` (a list of words): specifiers escaped, quoted if it
    holds spaces."""
    _printable("path", path)
    if any(c in path for c in "\"'\\"):
        raise ConfigError(f"path {path!r}: quotes and backslashes cannot be used in a unit")
    text = path.replace("%", "%%")
    return f'"{text}"' if re.search(r"\s", text) else text


def _systemd_file(path: str) -> str:
    """A path for ``EnvironmentFile=`` (the whole value, never unquoted): specifiers escaped."""
    _printable("path", path)
    if path != path.strip():
        raise ConfigError(f"path {path!r}: a unit cannot name a path that starts or ends blank")
    return path.replace("%", "%%")


# -- the job --------------------------------------------------------------------------------
def parse_at(text: str) -> tuple[int, int]:
    """``HH:MM`` (24-hour clock) -> (hour, minute)."""
    match = re.fullmatch(r"([01]?[0-9]|2[0-3]):([0-5][0-9])", text.strip())
    if match is None:
        raise ConfigError(f"--at {text!r}: give a time as HH:MM, e.g. 02:30")
    return int(match[1]), int(match[2])


def default_command() -> list[str]:
    """How the job runs offboard: the ``offboard`` script beside this Python, else on PATH,
    else this Python with ``-m offboard``; always an absolute path."""
    script = Path(sys.executable).parent / "offboard"
    if script.is_file() and os.access(script, os.X_OK):
        return [os.path.abspath(script)]
    found = shutil.which("offboard")
    if found is not None:
        return [os.path.abspath(found)]
    return [os.path.abspath(sys.executable), "-m", "offboard"]


def absolute_source(source: str) -> str:
    """A SQLite path or ``sqlite:///relative`` URL made absolute; other URLs as they are.
    A URL holding a password is refused (it would be written into the job)."""
    if source.startswith("sqlite:///") and not source.startswith("sqlite:////"):
        return "sqlite:///" + os.path.abspath(source[len("sqlite:///") :])
    if "://" not in source:
        return os.path.abspath(source)
    try:
        password = urlsplit(source).password
    except ValueError:
        password = None
    if password:
        raise ConfigError(
            "--source: the URL holds a password; give it in --env-file (PGPASSWORD=...) "
            "instead, where the job reads it and no command line shows it"
        )
    return source


def absolute_dest(dest: str) -> str:
    if dest.startswith("s3://"):
        return dest
    if dest.startswith("file://"):
        dest = dest[len("file://") :]
    elif "://" in dest:
        raise ConfigError(f"--dest {dest!r}: give a folder or s3://BUCKET/PREFIX")
    return os.path.abspath(dest)


@dataclass(frozen=True)
class Schedule:
    """What the nightly job runs, and when (absolute paths, validated)."""

    command: tuple[str, ...]
    source: str
    dest: str
    sign_key: str
    accounts: str = "all"
    report: str = DEFAULT_REPORT
    at: tuple[int, int] = (2, 30)
    user: str | None = None
    env_file: str | None = None
    policy: Policy | None = None
    name: str = "offboard-backup"
    random_delay: int = 30

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ConfigError(f"--name {self.name!r}: letters, digits, '-' and '_' only")
        if self.user is not None and not _USER.fullmatch(self.user):
            raise ConfigError(f"--user {self.user!r}: not a user name")
        if not self.command or not os.path.isabs(self.command[0]):
            raise ConfigError(f"--offboard {self.command[:1]}: give an absolute path")
        if self.env_file is not None and not os.path.isabs(self.env_file):
            raise ConfigError(f"--env-file {self.env_file!r}: give an absolute path")
        for what, value in (
            ("--source", self.source),
            ("--dest", self.dest),
            ("--sign-key", self.sign_key),
            ("--accounts", self.accounts),
            ("--report", self.report),
            ("--env-file", self.env_file or ""),
            *(("--offboard", c) for c in self.command),
        ):
            _printable(what, value)

    @property
    def local_dest(self) -> bool:
        return not self.dest.startswith("s3://")

    def backup_argv(self) -> list[str]:
        return [
            *self.command,
            "backup",
            self.source,
            "--accounts",
            self.accounts,
            "--dest",
            self.dest,
            "--sign-key",
            self.sign_key,
            "--report",
            self.report,
        ]

    def prune_argv(self) -> list[str] | None:
        if self.policy is None or self.policy.empty:
            return None
        argv = [*self.command, "prune", self.dest]
        for rule in RULES:
            n = getattr(self.policy, rule)
            if n != 0:
                argv += [f"--keep-{rule}", "unlimited" if n == UNLIMITED else str(n)]
        return argv

    def commands(self) -> list[list[str]]:
        prune = self.prune_argv()
        return [self.backup_argv()] if prune is None else [self.backup_argv(), prune]


# -- the formats ------------------------------------------------------------------------------
def cron_entry(s: Schedule) -> str:
    """A crontab: for ``/etc/cron.d/NAME`` (with the user field) when ``user`` is given, else
    for the crontab of the user who runs the job (``crontab -e``)."""
    hour, minute = s.at
    commands = s.commands()
    line = cron_command(commands)
    if s.env_file is not None:
        # the variables of the file are exported to offboard (set -a), as systemd would
        line = f"set -a && . {cron_quote(s.env_file)} && set +a && {line}"
    where = (
        f"/etc/cron.d/{s.name} (runs as {s.user})"
        if s.user is not None
        else "the crontab of the user who runs the backup (crontab -e)"
    )
    who = f" {s.user}" if s.user is not None else ""
    return (
        f"# offboard nightly backup, for {where}\n"
        f"# at {hour:02d}:{minute:02d} in the cron daemon's time zone"
        + ("; prune runs only after a successful backup" if len(commands) > 1 else "")
        + "\nSHELL=/bin/sh\n"
        f"{minute} {hour} * * *{who} {line}\n"
    )


def systemd_service(s: Schedule) -> str:
    """``NAME.service``: a oneshot running the backup, then the prune, with hardening."""
    lines = [
        f"# /etc/systemd/system/{s.name}.service",
        "[Unit]",
        f"Description=offboard nightly backup ({s.name})",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=oneshot",
    ]
    if s.user is not None:
        lines.append(f"User={s.user}")
    if s.env_file is not None:
        lines.append(f"EnvironmentFile={_systemd_file(s.env_file)}")
    # Type=oneshot runs each ExecStart= in turn and stops at the first that fails
    lines += ["ExecStart=" + " ".join(systemd_quote(a) for a in argv) for argv in s.commands()]
    lines += [
        "Nice=10",
        "IOSchedulingClass=best-effort",
        "IOSchedulingPriority=7",
        "UMask=0077",
        "# hardening: offboard reads the source and the key, and writes the destination only",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "ProtectSystem=strict",
        "ProtectHome=read-only",
    ]
    if not s.local_dest:
        # a run into s3:// keeps its locks in $XDG_STATE_HOME/offboard/locks: /var/lib/offboard
        lines += ["StateDirectory=offboard", "Environment=XDG_STATE_HOME=%S"]
    writable = [s.dest] if s.local_dest else []
    report_dir = os.path.dirname(s.report)
    if report_dir == _LOGS:
        lines.append("LogsDirectory=offboard")  # made by systemd, owned by User=
    elif not any(report_dir == w or report_dir.startswith(w + "/") for w in writable):
        writable.append(report_dir)
    if writable:
        lines.append("# these folders must exist before the first run")
        lines += [f"ReadWritePaths={_systemd_path(w)}" for w in writable]
    lines += [
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",
        "ProtectControlGroups=yes",
        "ProtectClock=yes",
        "ProtectHostname=yes",
        "ProtectProc=invisible",
        "RestrictSUIDSGID=yes",
        "RestrictRealtime=yes",
        "RestrictNamespaces=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "LockPersonality=yes",
        "CapabilityBoundingSet=",
        "AmbientCapabilities=",
        "SystemCallArchitectures=native",
        "SystemCallFilter=@system-service",
        "SystemCallErrorNumber=EPERM",
    ]
    return "\n".join(lines) + "\n"


def systemd_timer(s: Schedule) -> str:
    """``NAME.timer``: nightly at ``at`` (local time), caught up after downtime
    (``Persistent=true``), spread by ``RandomizedDelaySec``."""
    hour, minute = s.at
    lines = [
        f"# /etc/systemd/system/{s.name}.timer",
        "# enable with: systemctl daemon-reload && systemctl enable --now " + f"{s.name}.timer",
        "[Unit]",
        f"Description=Nightly offboard backup ({s.name}.service)",
        "",
        "[Timer]",
        f"OnCalendar=*-*-* {hour:02d}:{minute:02d}:00",
        "Persistent=true",
        f"RandomizedDelaySec={s.random_delay}min" if s.random_delay else "RandomizedDelaySec=0",
        "AccuracySec=1min",
        f"Unit={s.name}.service",
        "",
        "[Install]",
        "WantedBy=timers.target",
    ]
    return "\n".join(lines) + "\n"
