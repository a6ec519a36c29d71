"""Bad inputs for every command, and the folder that holds them, for ``test_error_surface``.

:data:`TABLE` has a line per case: a label, the ``ExitCode`` the command must end with, the
command line, then after ``=>`` what its error line must name (``&`` between several), and
flags: ``[click]`` for click's own usage error, ``[details]`` when indented lines of detail
may come before the error's line, ``[wrong]`` to run with a wrong ``OFFBOARD_PASSPHRASE``; a
line may go on on the next, indented.
``{name}`` stands for a file of the world (:func:`make_world`), ``$NAME`` for a piece of
command line (:data:`MACROS`).

The world: a tiny source and a copy whose account is cancelled, keys (one with a passphrase),
a signed archive and its truncated copy, binary garbage, empty files, folders where files are
expected, files that cannot be read, names with a newline and an ANSI escape, databases that
are not SQLite or lack the tables a command needs, and places where nothing can be written
(under a regular file, in /proc).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from offboard.cli import cli
from offboard.errors import ExitCode
from tests.tinydb import make_tiny_db

MACROS = {
    "SRC": "{tiny} -a acc-t001",
    "OUT": "--out {root}/never",
    "NZ": "--out {root}/never.zip",
    "ZIP": "--out {root}/never.zip --sign-key {key}",
    "KEYS": "--pubkey {pub} --sign-key {key}",
    "PAIR": "--sign-key {key} --pubkey {pub}",
    "TERM": "terminate {gate} -a acc-t001 --archive",
    "ARC": "--archive {archive}",
    "BK": "--dest {root}/bk --sign-key {key}",
    "CLOSE": "close {gate} -a acc-t002",
    "RESTORE": "restore {archive} --pubkey",
    "BACKUP": "backup {tiny} --accounts all --dest {root}/bk --sign-key",
    "SCHED": "schedule --source {tiny} --dest {root}/bk --sign-key {key}",
}

TABLE = """
# -- sources: no database, a bad scheme, a hostile name, a missing table; mapping files --------
missing-file         SOURCE           accounts {missing_db} => {missing_db}
directory            SOURCE           accounts {dir_db} => {dir_db}
empty-file           SOURCE           accounts {empty_db} => {empty_db}
binary-garbage       SOURCE           accounts {garbage_db} => {garbage_db}
text-not-sqlite      SOURCE           accounts {text_db} => {text_db}
bad-url-scheme       SOURCE           accounts ftp://host/x.db => ftp
hostile-name         SOURCE           accounts {hostile_db} => {hostile_db}
missing-table        SCHEMA           accounts {bare_db} => {bare_db.name} & accounts
mapping-garbage      MAPPING          accounts {tiny} --mapping {garbage} => {garbage}
mapping-missing      MAPPING          accounts {tiny} --mapping {missing_toml} => {missing_toml}
mapping-unreadable   MAPPING          accounts {tiny} --mapping {unreadable} => {unreadable}
mapping-empty        MAPPING          accounts {tiny} --mapping {empty} => {empty}
mapping-directory    USAGE            accounts {tiny} --mapping {dir} => --mapping [click]
# -- export ---------------------------------------------------------------------------------
unknown-account      UNKNOWN_ACCOUNT  export {tiny} -a acc-nope $OUT => acc-nope
hostile-account      UNKNOWN_ACCOUNT  export {tiny} -a {hostile} $OUT => {hostile}
unknown-kind         UNKNOWN_KIND     export $SRC $OUT --kinds bank,nope => 'nope'
no-kind              USAGE            export $SRC $OUT --kinds , => --kinds
bad-created-at       USAGE            export $SRC $ZIP --created-at yesterday => --created-at
bad-split-size       USAGE            export $SRC $ZIP --split-size huge => --split-size
bad-document-size    USAGE            export $SRC $OUT --max-document-size x => --max-document
jobs-out-of-range    USAGE            export $SRC $OUT --jobs 0 => --jobs [click]
split-files-zero     USAGE            export $SRC $ZIP --split-files 0 => --split-files [click]
output-exists        OUTPUT_EXISTS    export $SRC --out {nonempty} => --overwrite
archive-exists       OUTPUT_EXISTS    export $SRC --out {archive} --sign-key {key} => {archive}
output-under-a-file  OUTPUT           export $SRC --out {regular}/out => {regular}
output-in-proc       OUTPUT           export $SRC --out /proc/offboard-x => offboard-x
doc-memory-too-low   USAGE            export $SRC $OUT --document-memory 1MB => --document-memory
doc-timeout-zero     USAGE            export $SRC $OUT --document-timeout 0 => timeout [click]
sign-key-missing     KEY              export $SRC $NZ --sign-key {missing_key} => {missing_key}
sign-key-garbage     KEY              export $SRC $NZ --sign-key {garbage} => {garbage}
sign-key-empty       KEY              export $SRC $NZ --sign-key {empty} => {empty}
sign-key-unreadable  KEY              export $SRC $NZ --sign-key {unreadable} => {unreadable}
sign-key-is-public   KEY              export $SRC $NZ --sign-key {pub} => {pub}
sign-key-hostile     KEY              export $SRC $NZ --sign-key {hostile_key} => {hostile_key}
sign-key-directory   USAGE            export $SRC $NZ --sign-key {dir} => --sign-key [click]
wrong-passphrase     WRONG_PASSPHRASE export $SRC $NZ --sign-key {locked} => {locked} [wrong]
no-passphrase        KEY              export $SRC $NZ --sign-key {locked} => OFFBOARD_PASSPHRASE
bad-recipient        USAGE            export $SRC $ZIP --encrypt-to nope => --encrypt-to
retention-garbage    USAGE            export $SRC $ZIP --retention {garbage} => {garbage}
retention-missing    USAGE            export $SRC $ZIP --retention {missing_toml} => {missing_toml}
retention-unreadable USAGE            export $SRC $ZIP --retention {unreadable} => {unreadable}
mapping-empty        MAPPING          export $SRC $OUT --mapping {empty} => {empty}
source-not-sqlite    SOURCE           export {garbage_db} -a acc-t001 $OUT => {garbage_db}
source-missing-table SCHEMA           export {nopeople_db} -a acc-t001 $OUT -k contacts => people
http-without-mapping MAPPING          export https://api.example.test -a a $OUT => --mapping
lock-without-s3      USAGE            export $SRC $OUT --lock governance => --lock
# -- keygen, verify -------------------------------------------------------------------------
output-exists        OUTPUT_EXISTS    keygen {key_prefix} --no-passphrase => {key}
output-under-a-file  OUTPUT           keygen {regular}/k --no-passphrase => {regular}
output-in-proc       OUTPUT           keygen /proc/offboard-k --no-passphrase => /proc/offboard-k
no-passphrase        KEY              keygen {root}/new => OFFBOARD_PASSPHRASE
missing-archive      UNREADABLE       verify {missing_zip} --pubkey {pub} => {missing_zip}
directory            UNREADABLE       verify {dir} --pubkey {pub} => {dir}
hostile-name         UNREADABLE       verify {hostile_zip} --pubkey {pub} => {hostile_zip}
empty-file           INVALID          verify {empty} --pubkey {pub} => {empty.name}
binary-garbage       INVALID          verify {garbage} --pubkey {pub} => {garbage.name}
truncated            INVALID          verify {trunc} --pubkey {pub} => {trunc.name}
wrong-public-key     INVALID          verify {archive} --pubkey {other_pub} => {archive.name}
pubkey-garbage       KEY              verify {archive} --pubkey {garbage} => {garbage}
pubkey-missing       KEY              verify {archive} --pubkey {missing_pub} => {missing_pub}
pubkey-unreadable    KEY              verify {archive} --pubkey {unreadable} => {unreadable}
pubkey-is-secret     KEY              verify {archive} --pubkey {key} => {key}
no-pubkey            USAGE            verify {archive} => --pubkey
max-files-zero       USAGE            verify {archive} -p {pub} --max-files 0 => --max-files [click]
version-id-local     USAGE            verify {archive} -p {pub} --version-id 3 => --version-id
identity-plain       USAGE            verify {archive} -p {pub} --identity {garbage} => --identity
# -- restore --------------------------------------------------------------------------------
missing-archive      UNREADABLE       restore {missing_zip} -p {pub} --into {new_db} => missing.zip
truncated            INVALID          restore {trunc} -p {pub} --into {new_db} => {trunc.name}
wrong-public-key     INVALID          $RESTORE {other_pub} --into {new_db} => {archive.name}
bad-url-scheme       USAGE            $RESTORE {pub} --into mysql://h/db => mysql
schema-missing       SCHEMA           $RESTORE {pub} --into sqlite:///{bare_db} => {bare_db.name}
into-not-sqlite      OUTPUT           $RESTORE {pub} --into sqlite:///{garbage_db} => {garbage_db}
into-under-a-file    OUTPUT           $RESTORE {pub} --into sqlite:///{regular}/r.db => {regular}
account-exists       OUTPUT_EXISTS    $RESTORE {pub} --into sqlite:///{restored} => acc-t001
no-pubkey            USAGE            restore {archive} --into {new_db} => --pubkey
directory            USAGE            restore {dir} -p {pub} --into {new_db} => ARCHIVE [click]
# -- fec-check ------------------------------------------------------------------------------
missing-file         UNREADABLE       fec-check {missing_txt} => {missing_txt}
unreadable           UNREADABLE       fec-check {unreadable} => {unreadable}
hostile-name         UNREADABLE       fec-check {hostile_txt} => {hostile_txt}
binary-garbage       INVALID          fec-check {garbage} => {garbage} & not a valid FEC
empty-file           INVALID          fec-check {empty} => {empty} & not a valid FEC
directory            USAGE            fec-check {dir} => is a directory [click]
bad-start            USAGE            fec-check {garbage} --start 2025 => --start
max-problems-zero    USAGE            fec-check {garbage} --max-problems 0 => --max-problems [click]
# -- retention, mapping, kinds, demo --------------------------------------------------------
policy-garbage       USAGE            retention show --policy {garbage} => {garbage}
policy-missing       USAGE            retention show --policy {missing_toml} => {missing_toml}
policy-empty         USAGE            retention show --policy {empty} => {empty}
policy-unreadable    USAGE            retention show --policy {unreadable} => {unreadable}
policy-directory     USAGE            retention show --policy {dir} => --policy [click]
mapping-garbage      MAPPING          mapping check $SRC --mapping {garbage} => {garbage}
unknown-account      UNKNOWN_ACCOUNT  mapping check {tiny} -a acc-nope => acc-nope
missing-table        SCHEMA           mapping check {bare_db} -a acc-t001 => {bare_db.name}
extra-argument       USAGE            mapping reference extra => extra [click]
extra-argument       USAGE            kinds extra => extra [click]
output-under-a-file  OUTPUT           demo {regular}/demo.db --accounts 1 => {regular}
output-in-proc       OUTPUT           demo /proc/offboard-demo.db --accounts 1 => /proc/offboard
accounts-zero        USAGE            demo {root}/d.db --accounts 0 => --accounts [click]
unknown-scale        USAGE            demo {root}/d.db --scale huge => --scale [click]
# -- the termination gate -------------------------------------------------------------------
unknown-account      UNKNOWN_ACCOUNT  cancel {gate} -a acc-nope => acc-nope
source-not-sqlite    SOURCE           cancel {garbage_db} -a acc-t001 => {garbage_db}
source-missing       SOURCE           cancel {missing_db} -a acc-t001 => {missing_db}
missing-table        SCHEMA           cancel {bare_db} -a acc-t001 => subscriptions
http-source          SOURCE           cancel https://api.example.test -a a => api.example.test
unknown-account      UNKNOWN_ACCOUNT  terminate {gate} -a acc-nope $ARC $KEYS => acc-nope
missing-archive      REFUSED          $TERM {missing_zip} $KEYS => {missing_zip}
wrong-public-key     INVALID          $TERM {archive} -p {other_pub} --sign-key {key} => {archive}
  & --pubkey [details]
truncated            INVALID          $TERM {trunc} $KEYS => {trunc} [details]
pubkey-garbage       KEY              $TERM {archive} -p {garbage} --sign-key {key} => {garbage}
sign-key-garbage     KEY              $TERM {archive} -p {pub} --sign-key {garbage} => {garbage}
unknown-billing      USAGE            $TERM {archive} $KEYS --billing nope => 'nope'
bad-billing-option   USAGE            $TERM {archive} $KEYS --billing-option x => --billing-option
no-confirmation      USAGE            $CLOSE $PAIR --out {root}/closed => --yes
keys-not-a-pair      USAGE            $CLOSE --sign-key {key} -p {other_pub} -o {root}/c --yes
  => --pubkey
unknown-account      UNKNOWN_ACCOUNT  close {gate} -a acc-nope $PAIR -o {root}/c --yes => acc-nope
lock-without-s3      USAGE            $CLOSE $PAIR --out {root}/c --yes --lock governance => --lock
output-under-a-file  OUTPUT           $CLOSE $PAIR --out {regular}/c --yes => {regular}
# -- backups --------------------------------------------------------------------------------
unknown-account      BACKUP_INCOMPLETE backup {tiny} --accounts acc-nope $BK --workers 1 => acc-nope
bad-executor         USAGE            $BACKUP {key} --executor spark://h => --executor
bad-created-at       USAGE            $BACKUP {key} --created-at x => --created-at
workers-zero         USAGE            $BACKUP {key} --workers 0 => --workers [click]
sign-key-garbage     KEY              $BACKUP {garbage} => {garbage}
wrong-passphrase     WRONG_PASSPHRASE $BACKUP {locked} => {locked} [wrong]
unknown-kind         UNKNOWN_KIND     $BACKUP {key} --kinds nope => 'nope'
dest-under-a-file    OUTPUT           backup {tiny} --accounts all --dest {regular}/bk
  --sign-key {key} => {regular}
no-account           USAGE            backup {tiny} --accounts , $BK => --accounts
source-not-sqlite    SOURCE           backup {garbage_db} --accounts all $BK => {garbage_db}
mapping-garbage      MAPPING          $BACKUP {key} --mapping {garbage} => {garbage}
retention-garbage    USAGE            $BACKUP {key} --retention {garbage} => {garbage}
dest-under-a-file    OUTPUT           prune {regular}/bk --keep-daily 1 => {regular}
negative-count       USAGE            prune {root}/bk --keep-daily -1 => --keep-daily [click]
empty-policy         USAGE            prune {root}/bk => --keep-daily
dest-under-a-file    OUTPUT           check {regular}/bk --pubkey {pub} => {regular}
pubkey-garbage       KEY              check {root}/bk --pubkey {garbage} => {garbage}
pubkey-missing       KEY              check {root}/bk --pubkey {missing_pub} => {missing_pub}
bad-subset           USAGE            check {root}/bk -p {pub} --read-data-subset 9/3 => --read-data
bad-time             USAGE            $SCHED --at 25:99 => --at & 25:99
delay-out-of-range   USAGE            $SCHED --random-delay 9999 => --random-delay [click]
negative-count       USAGE            $SCHED --keep-daily -1 => --keep-daily [click]
"""
#: a name with a newline and an ANSI escape in it
HOSTILE = "evil\n\x1b[31mname"
GARBAGE = bytes(range(256)) + b"\x00\xffnot at all what was expected\r\n\x1b[2J" * 8
#: scrypt parameters that make a passphrase-protected key instant (as in test_signing)
SMALL_KDF = {"opslimit": 2**16, "memlimit": 2**24}


@dataclass(frozen=True)
class Case:
    id: str
    command: str
    args: tuple[str, ...]
    code: ExitCode
    names: tuple[str, ...]
    usage: bool = False
    details: bool = False
    env: dict[str, str] = field(default_factory=dict)


def parse(table: str) -> list[Case]:
    cases = []
    lines = re.sub(r"\n  +", " ", table.strip()).splitlines()  # a line may go on indented
    for line in lines:
        if line.startswith("#"):
            continue
        label, code, rest = line.split(maxsplit=2)
        flags = set(re.findall(r" \[(\w+)\]", rest))
        rest = re.sub(r" \[\w+\]", "", rest)
        command_line, _, names = rest.partition(" => ")
        args = tuple(re.sub(r"\$([A-Z]+)", lambda m: MACROS[m[1]], command_line).split())
        command = " ".join(args[:2]) if args[0] in ("mapping", "retention") else args[0]
        cases.append(
            Case(
                f"{command.replace(' ', '-')}-{label}",
                command,
                args,
                ExitCode[code],
                tuple(names.split(" & ")),
                usage="click" in flags,
                details="details" in flags,
                env={"OFFBOARD_PASSPHRASE": "not the passphrase"} if "wrong" in flags else {},
            )
        )
    return cases


MATRIX = parse(TABLE)


@dataclass
class World:
    root: Path
    paths: dict[str, Any]

    def fill(self, template: str) -> str:
        return template.format_map(self.paths)

    def args(self, case: Case) -> list[str]:
        return [self.fill(a) for a in case.args]


def unreadable_file(folder: Path) -> Path:
    """A file whose reading fails: mode 000, or for root (who reads any file) /proc/self/mem,
    whose first page is never mapped (EIO)."""
    if os.geteuid() != 0:
        path = folder / "unreadable.bin"
        path.write_bytes(GARBAGE)
        path.chmod(0)
        return path
    return Path("/proc/self/mem")


def _invoke(*args: str | Path) -> None:
    done = CliRunner().invoke(cli, [str(a) for a in args], env={"OFFBOARD_PASSPHRASE": None})
    assert done.exit_code == 0, (args, done.output)


def make_world(root: Path) -> World:
    from manifests.signing import SecretKey, write_keypair

    tiny = make_tiny_db(root / "tiny.db")
    gate, nopeople, bare = root / "gate.db", root / "nopeople.db", root / "bare.db"
    shutil.copyfile(tiny, gate)
    shutil.copyfile(tiny, nopeople)
    with sqlite3.connect(nopeople) as conn:
        conn.execute("DROP TABLE people")
    with sqlite3.connect(bare) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    write_keypair(root / "k", SecretKey.generate(), None)
    write_keypair(root / "other", SecretKey.generate(), None)
    locked = root / "locked.key"
    locked.write_text(SecretKey.generate()._to_text("the passphrase", **SMALL_KDF))
    archive, restored = root / "acc-t001.zip", root / "restored.db"
    when = "2026-01-31T12:00:00Z"
    _invoke("export", tiny, "-a", "acc-t001", "--out", archive, "--sign-key", root / "k.key",
            "--kinds", "contacts", "--no-documents", "--quiet", "--created-at", when)  # fmt: skip
    _invoke("restore", archive, "-p", root / "k.pub", "--into", f"sqlite:///{restored}", "-q")
    _invoke("cancel", gate, "-a", "acc-t001", "--now")
    trunc = root / "truncated.zip"
    trunc.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    for name in ("garbage.bin", "garbage.db", f"{HOSTILE}.key"):
        (root / name).write_bytes(GARBAGE)
    for name in ("empty", "empty.db"):
        (root / name).write_bytes(b"")
    (root / "text.db").write_text("this is not a database\n")
    (root / "regular").write_text("a regular file: nothing goes under it\n")
    for folder in ("dir", "dir.db", "nonempty"):
        (root / folder).mkdir()
    (root / "nonempty" / "mine.txt").write_text("keep me\n")
    paths: dict[str, Any] = {
        "root": root,
        "tiny": tiny,
        "gate": gate,
        "nopeople_db": nopeople,
        "bare_db": bare,
        "key": root / "k.key",
        "key_prefix": root / "k",
        "pub": root / "k.pub",
        "other_pub": root / "other.pub",
        "locked": locked,
        "archive": archive,
        "trunc": trunc,
        "restored": restored,
        "new_db": f"sqlite:///{root / 'new.db'}",
        "garbage": root / "garbage.bin",
        "garbage_db": root / "garbage.db",
        "empty": root / "empty",
        "empty_db": root / "empty.db",
        "text_db": root / "text.db",
        "dir": root / "dir",
        "dir_db": root / "dir.db",
        "nonempty": root / "nonempty",
        "regular": root / "regular",
        "unreadable": unreadable_file(root),
        "hostile": HOSTILE,
    }
    for ext in ("db", "key", "zip", "txt"):
        paths[f"hostile_{ext}"] = root / f"{HOSTILE}.{ext}"
    for ext in ("db", "key", "pub", "zip", "txt", "toml"):
        paths[f"missing_{ext}"] = root / f"missing.{ext}"
    return World(root, paths)
