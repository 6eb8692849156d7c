"""Loading plain SQL that somebody else wrote (pg_dump's plain format: Odoo's ``dump.sql``)
without psql.

psql honours backslash meta-commands anywhere outside quotes — ``\\!`` runs a shell command,
``\\o`` writes a file, ``\\c`` reconnects — so a dump from a customer must never reach it. This
loader splits the text into statements with a small lexer that knows PostgreSQL's quoting
(single quotes with ``''``, E'' strings with backslash escapes, double-quoted identifiers, dollar
quotes, ``--`` and nested ``/* */`` comments; a statement ends at a ``;`` outside parentheses and
``BEGIN ATOMIC … END``, as psql decides), refuses any backslash outside quotes, comments and COPY
data, checks each statement's leading keywords against what pg_dump writes, streams
``COPY … FROM stdin`` data through the protocol in chunks, and runs everything in one transaction
connected as an ordinary role. What the keyword check cannot see (SQL inside function bodies) is
left to PostgreSQL's privilege checks, which that role cannot escape, and to a final check that
nothing shared with other databases (roles, databases, their settings and comments) was written.

Memory is bounded whatever the size of the dump: one statement at a time (at most
``max_statement_bytes``), COPY data in chunks.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg

from odooplane.errors import OdooplaneError, PermanentError, UsageError
from odooplane.services.postgres import ClusterConn, connect

CHUNK = 1 << 20  # COPY data is sent in pieces of about this size
MAX_STATEMENT_BYTES = 64 << 20  # one statement (a function body, an INSERT): far above what pg_dump writes
_HEAD_BYTES = 64 << 10  # the part of a statement, comments removed, that the keyword check reads

_IDENT = rb"[A-Za-z_\x80-\xff][A-Za-z0-9_$\x80-\xff]*"
# What matters to the lexer outside quotes; anything else (numbers, operators, spaces) is copied.
_TOKEN = re.compile(rb"(?P<ident>" + _IDENT + rb")|--|/\*|['\"$;()\\]")
_DOLLAR_TAG = re.compile(rb"\$(?:[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*)?\$")
_COMMENT_MARK = re.compile(rb"/\*|\*/")
_ESCAPED_QUOTE = re.compile(rb"['\\]")
_META = re.compile(rb"\\([A-Za-z]+|.?)")
# pg_dump >= 17.6 (and the matching minor releases before) guards interactive use with these
# psql meta-commands around the whole dump; they are skipped, never executed.
_FROM_STDIN = re.compile(rb"\bFROM\s+STDIN\b", re.IGNORECASE)
_RESTRICT = re.compile(rb"\\(?:un)?restrict [A-Za-z0-9]+[ \t]*\r?\n?")

NORMAL, SQUOTE, DQUOTE, DOLLAR, COMMENT = range(5)


class DumpRefused(UsageError):
    """The dump contains something an import may not do (named with its line)."""


@dataclass(frozen=True)
class Statement:
    """One statement of the dump: its first line, its text as written (sent as is) and its
    beginning with comments removed (what the keyword check reads)."""

    line: int
    text: bytes
    head: bytes

    @property
    def words(self) -> list[str]:
        return _words(self.head)


@dataclass
class LoadResult:
    statements: int = 0
    bytes_read: int = 0
    copy_bytes: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


class Lexer:
    """Split a pg_dump plain-format stream into statements (see the module docstring).

    ``statements()`` yields each statement; after a ``COPY … FROM stdin`` one the caller reads its
    data with ``copy_data()`` before asking for the next (what it leaves unread is skipped)."""

    def __init__(self, stream: io.BufferedReader, *, name: str = "dump.sql",
                 max_statement_bytes: int = MAX_STATEMENT_BYTES) -> None:
        self.stream = stream
        self.name = name
        self.max_statement = max_statement_bytes
        self.line_no = 0
        self.bytes_read = 0
        self.skipped: dict[str, int] = {}
        self.standard_strings = True  # standard_conforming_strings: off makes '' strings take escapes
        self._copy_pending = False
        self._reset()
        self.state = NORMAL
        self._depth = 0  # of nested /* */ comments
        self._tag = b""  # the closing tag of the dollar quote we are in
        self._escapes = False  # in an E'' string: backslash escapes the next byte
        self._e_end = -1  # where, on the current line, an identifier E (an E'' prefix) ended
        self._seg = 0  # where the current statement's text starts on the current line

    # -- statements -----------------------------------------------------------------------------
    def _reset(self) -> None:
        self._raw: list[bytes] = []
        self._raw_len = 0
        self._head = bytearray()
        self._start: int | None = None
        self._lead = 0  # bytes of comments and blank lines before the statement's first token
        self._words: list[bytes] = []
        self._paren = 0
        self._begin = 0  # BEGIN … END depth inside CREATE FUNCTION/PROCEDURE (BEGIN ATOMIC bodies)

    def refuse(self, line: int, message: str) -> DumpRefused:
        return DumpRefused(f"{self.name} line {line}: {message}")

    def statements(self) -> Iterator[Statement]:
        while True:
            if self._copy_pending:
                for _ in self.copy_data():
                    pass
            limit = self.max_statement - self._raw_len + 1
            line = self.stream.readline(max(limit, 2))
            if not line:
                break
            self.bytes_read += len(line)
            self.line_no += 1
            if not line.endswith(b"\n") and len(line) >= limit:
                raise self.refuse(self._start or self.line_no,
                                  f"statement longer than {self.max_statement >> 20} MiB")
            if self.state == NORMAL and self._start is None and _RESTRICT.fullmatch(line):
                self.skipped["\\restrict lines"] = self.skipped.get("\\restrict lines", 0) + 1
                continue
            yield from self._feed(line)
        if self.state != NORMAL:
            what = {SQUOTE: "quoted string", DQUOTE: "quoted identifier", DOLLAR: "dollar-quoted string",
                    COMMENT: "comment"}[self.state]
            raise self.refuse(self._start or self.line_no, f"unterminated {what} at the end of the file")
        if self._start is not None:
            yield self._statement()

    def _statement(self) -> Statement:
        assert self._start is not None
        stmt = Statement(self._start, b"".join(self._raw)[self._lead:], bytes(self._head))
        self._reset()
        words = stmt.words
        if words[:1] == ["SET"] and "STANDARD_CONFORMING_STRINGS" in words[1:3]:
            value = re.search(rb"(?i)(?:=|\bto)\s*'?(\w+)", stmt.head)
            if value:
                self.standard_strings = value.group(1).lower() not in (b"off", b"false", b"0", b"no")
        if words[:1] == ["COPY"] and _FROM_STDIN.search(stmt.head):  # data lines follow, up to \.
            self._copy_pending = True
        return stmt

    def _keep(self, text: bytes, at: int) -> None:
        """Record significant text (outside comments) of the statement being read; ``at`` is
        where it starts on the current line."""
        if self._start is None:
            if not text.strip():
                return
            self._start = self.line_no
            self._lead = self._raw_len + at + (len(text) - len(text.lstrip())) - self._seg
        if len(self._head) < _HEAD_BYTES:
            self._head += text[: _HEAD_BYTES - len(self._head)]

    def _append_raw(self, text: bytes) -> None:
        self._raw.append(text)
        self._raw_len += len(text)

    def _word(self, word: bytes) -> None:
        upper = word.upper()
        if len(self._words) < 4:
            self._words.append(upper)
        w = self._words
        defines_routine = w[:1] == [b"CREATE"] and (
            w[1:2] in ([b"FUNCTION"], [b"PROCEDURE"])
            or (w[1:3] == [b"OR", b"REPLACE"] and w[3:4] in ([b"FUNCTION"], [b"PROCEDURE"])))
        if defines_routine and self._paren == 0:  # psql's rule for SQL-standard bodies
            if upper == b"BEGIN" or (upper == b"CASE" and self._begin >= 1):  # CASE … END inside BEGIN
                self._begin += 1
            elif upper == b"END" and self._begin > 0:
                self._begin -= 1

    def _feed(self, line: bytes) -> Iterator[Statement]:
        pos, end = 0, len(line)
        self._seg = 0
        self._e_end = -1
        keep = self._keep
        while pos < end:
            state = self.state
            if state == NORMAL:
                m = _TOKEN.search(line, pos)
                if m is None:
                    keep(line[pos:], pos)
                    break
                start = m.start()
                keep(line[pos:start], pos)
                tok, pos = m.group(), m.end()
                if m.lastgroup == "ident":
                    keep(tok, start)
                    self._word(tok)
                    if tok in (b"E", b"e"):
                        self._e_end = pos
                elif tok == b"--":
                    keep(b" ", start)
                    break  # the rest of the line is a comment
                elif tok == b"/*":
                    keep(b" ", start)
                    self.state, self._depth = COMMENT, 1
                elif tok == b"'":
                    keep(tok, start)
                    self.state = SQUOTE
                    self._escapes = not self.standard_strings or self._e_end == start
                elif tok == b'"':
                    keep(tok, start)
                    self.state = DQUOTE
                elif tok == b"$":
                    dollar = _DOLLAR_TAG.match(line, start)
                    if dollar:
                        keep(dollar.group(), start)
                        self.state, self._tag, pos = DOLLAR, dollar.group(), dollar.end()
                    else:
                        keep(tok, start)  # a parameter ($1) or part of an operator
                elif tok == b"(":
                    keep(tok, start)
                    self._paren += 1
                elif tok == b")":
                    keep(tok, start)
                    self._paren = max(0, self._paren - 1)
                elif tok == b";":
                    if self._paren or self._begin:
                        keep(tok, start)
                        continue
                    self._append_raw(line[self._seg:pos])
                    self._seg = pos
                    if self._start is None:  # an empty statement
                        self._reset()
                        continue
                    yield self._statement()
                    self._seg = pos
                    if self._copy_pending and line[pos:].strip():
                        raise self.refuse(self.line_no, "COPY data must start on the line after the COPY")
                else:  # a backslash: psql would take it for a meta-command
                    meta = _META.match(line, start)
                    command = (meta.group() if meta else b"\\").decode("ascii", "replace")
                    raise self.refuse(self.line_no, f"psql meta-command {command} is not allowed")
            elif state in (SQUOTE, DQUOTE):
                quote = b"'" if state == SQUOTE else b'"'
                if state == SQUOTE and self._escapes:
                    m = _ESCAPED_QUOTE.search(line, pos)
                    if m and m.group() == b"\\":  # an escaped byte, whatever it is
                        keep(line[pos:m.start() + 2], pos)
                        pos = m.start() + 2
                        continue
                    at = m.start() if m else -1
                else:
                    at = line.find(quote, pos)
                if at < 0:
                    keep(line[pos:], pos)
                    break
                if line[at + 1:at + 2] == quote:  # a doubled quote stays inside
                    keep(line[pos:at + 2], pos)
                    pos = at + 2
                    continue
                keep(line[pos:at + 1], pos)
                pos, self.state = at + 1, NORMAL
            elif state == DOLLAR:
                at = line.find(self._tag, pos)
                if at < 0:
                    keep(line[pos:], pos)
                    break
                stop = at + len(self._tag)
                keep(line[pos:stop], pos)
                pos, self.state = stop, NORMAL
            else:  # COMMENT
                m = _COMMENT_MARK.search(line, pos)
                if m is None:
                    break
                pos = m.end()
                self._depth += 1 if m.group() == b"/*" else -1
                if self._depth == 0:
                    self.state = NORMAL
        if self._seg < end:
            self._append_raw(line[self._seg:])

    # -- COPY data ------------------------------------------------------------------------------
    def copy_data(self) -> Iterator[bytes]:
        """The data of the COPY statement just yielded, in pieces of about CHUNK bytes, up to (not
        including) its ``\\.`` line. Raise DumpRefused if the file ends first."""
        if not self._copy_pending:
            return
        self._copy_pending = False
        started = self.line_no
        at_line_start, out, size = True, [], 0
        while True:
            buf = self.stream.peek(CHUNK)
            if not buf:
                raise self.refuse(started, "COPY data without its end marker (a line \\.)")
            if at_line_start and buf.startswith(b"\\."):
                line = self.stream.readline(CHUNK)
                self.bytes_read += len(line)
                if line in (b"\\.\n", b"\\.\r\n", b"\\."):
                    self.line_no += 1
                    break
                data = line  # not the end marker: PostgreSQL judges it
            else:
                found = buf.find(b"\n\\.")
                if found >= 0:
                    take = found + 1
                else:
                    last = buf.rfind(b"\n")
                    take = last + 1 if last >= 0 else len(buf)
                data = self.stream.read(take)
                self.bytes_read += len(data)
            self.line_no += data.count(b"\n")
            at_line_start = data.endswith(b"\n")
            out.append(data)
            size += len(data)
            if size >= CHUNK:
                yield b"".join(out)
                out, size = [], 0
        if out:
            yield b"".join(out)


def _words(head: bytes, count: int = 8) -> list[str]:
    """The first ``count`` tokens of a statement, upper-cased (identifiers unquoted)."""
    tokens = re.findall(rb'"(?:[^"]|"")*"|' + _IDENT + rb"|'(?:[^']|'')*'|\S", head[:4096])
    out = []
    for tok in tokens[:count]:
        text = tok.decode("utf-8", "replace")
        out.append(text[1:-1].replace('""', '"') if text.startswith('"') else text.upper())
    return out


# -- what a dump may do -------------------------------------------------------------------------

ALLOWED = frozenset({"SET", "RESET", "SELECT", "CREATE", "ALTER", "DROP", "COMMENT", "COPY", "GRANT", "REVOKE",
                     "SECURITY", "REFRESH", "INSERT", "BEGIN", "START", "COMMIT", "END"})
# Objects shared by every database of the cluster, or the cluster itself: an import touches none.
_SHARED = frozenset({"ROLE", "USER", "GROUP", "DATABASE", "TABLESPACE", "SUBSCRIPTION", "SERVER", "LANGUAGE",
                     "SYSTEM", "OWNED", "EVENT", "FOREIGN"})
_SHARED_LABELLED = frozenset({"ROLE", "DATABASE", "TABLESPACE", "SUBSCRIPTION"})
_ASCII_SAFE_ENCODINGS = frozenset({"UTF8", "UTF-8", "UNICODE", "SQL_ASCII", "LATIN1", "LATIN9", "WIN1252",
                                   "ISO_8859_1", "ISO_8859_15"})
_QUOTED_OR_NAME = rb'(?:"(?:[^"]|"")+"|' + _IDENT + rb")"
_COPY_FROM_STDIN = re.compile(
    rb"\s*COPY\s+" + _QUOTED_OR_NAME + rb"(?:\s*\.\s*" + _QUOTED_OR_NAME + rb")?"
    rb"\s*(?:\(\s*" + _QUOTED_OR_NAME + rb"(?:\s*,\s*" + _QUOTED_OR_NAME + rb")*\s*\))?"
    rb"\s+FROM\s+stdin\s*;?\s*", re.IGNORECASE)
_OWNER_TO = re.compile(rb"\s*ALTER\s.*\sOWNER\s+TO\s+" + _QUOTED_OR_NAME + rb"\s*;?\s*", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Verdict:
    action: str  # "run", "copy", "skip", "refuse"
    reason: str = ""


def judge(stmt: Statement, *, extensions: set[str]) -> Verdict:
    """What to do with ``stmt``: run it, stream its COPY data, skip it (what pg_restore's
    --no-owner --no-privileges would not restore either) or refuse the dump.

    ``extensions`` are those the role may create (trusted ones, or already installed)."""
    w = stmt.words
    first = w[0] if w else ""
    if first not in ALLOWED:
        return Verdict("refuse", f"{first or 'this'} statements are not part of a pg_dump dump")
    if first in ("BEGIN", "START", "COMMIT", "END"):
        return Verdict("skip", "transaction control (the dump loads in one transaction)")
    if first in ("GRANT", "REVOKE") or w[1:3] == ["DEFAULT", "PRIVILEGES"]:
        return Verdict("skip", "privileges (GRANT/REVOKE)")
    if first in ("SET", "RESET"):
        return _judge_setting(w)
    if first == "COPY":
        if _COPY_FROM_STDIN.fullmatch(stmt.head):
            return Verdict("copy")
        return Verdict("refuse", "only COPY … FROM stdin is allowed (this COPY would read or write a file on "
                                 "the server or run a program)")
    if first in ("CREATE", "ALTER", "DROP"):
        kind = _object_kind(w[1:])
        if kind:
            return Verdict("refuse", f"{first} {kind} acts outside the environment's database (roles, databases, "
                                     "languages and the server are not the dump's to change)")
        if first == "ALTER" and _OWNER_TO.fullmatch(stmt.head):
            return Verdict("skip", "ownership (OWNER TO: everything belongs to the environment's role)")
    if first in ("COMMENT", "SECURITY"):
        # COMMENT ON <object> …  /  SECURITY LABEL [FOR provider] ON <object> …
        at = 2 if first == "COMMENT" else 5 if w[2:3] == ["FOR"] else 3
        target = w[at] if len(w) > at else ""
        if first == "COMMENT" and target == "EXTENSION":
            return Verdict("skip", "comments on extensions (an extension keeps its own description)")
        if target in _SHARED_LABELLED:
            return Verdict("refuse", f"{first} ON {target} acts outside the environment's database")
    if first == "CREATE" and w[1:2] == ["EXTENSION"]:
        name = w[5] if w[2:5] == ["IF", "NOT", "EXISTS"] and len(w) > 5 else w[2] if len(w) > 2 else ""
        if name.lower() not in extensions:
            return Verdict("refuse", f"extension {name} is not a trusted extension of this server (only a "
                                     "superuser could create it; ask the administrator to install it first)")
    return Verdict("run")


def _object_kind(words: list[str]) -> str:
    """The kind of object after CREATE/ALTER/DROP when it lives outside the database ("" if not)."""
    rest = [x for x in words if x not in ("OR", "REPLACE", "TRUSTED", "PROCEDURAL")]
    kind = rest[0] if rest else ""
    if kind in ("EVENT", "USER") and rest[1:2] in (["TRIGGER"], ["MAPPING"]):
        return f"{kind} {rest[1]}"
    if kind == "FOREIGN":  # a foreign table lives in the database; a data wrapper does not
        return "FOREIGN DATA WRAPPER" if rest[1:2] == ["DATA"] else ""
    return kind if kind in _SHARED else ""


def _judge_setting(w: list[str]) -> Verdict:
    i = 1
    while w[i:i + 1] in (["SESSION"], ["LOCAL"]):
        i += 1
    name = w[i].upper() if len(w) > i else ""
    if name in ("ROLE", "AUTHORIZATION", "SESSION_AUTHORIZATION", "ALL") or w[1:3] == ["SESSION", "AUTHORIZATION"]:
        return Verdict("refuse", f"{' '.join(w[:i + 1])} would change the role the import runs as")
    if name in ("CLIENT_ENCODING", "NAMES") and w[0] == "SET":
        value = next((x for x in w[i + 1:] if x not in ("=", "TO")), "").strip("'").upper()
        if value and value not in _ASCII_SAFE_ENCODINGS:
            return Verdict("refuse", f"client encoding {value} is not supported (use UTF8)")
    return Verdict("run")


# -- loading --------------------------------------------------------------------------------------

# Shared catalogs a non-superuser can still write to for itself or the databases it owns: its
# password and settings, other databases' settings, comments and privileges. pg_shdepend is
# written by every CREATE (ownership) and is fine.
_SHARED_WRITES = ("SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                  "WHERE l.pid = pg_backend_pid() AND l.mode = 'RowExclusiveLock' AND c.relisshared "
                  "AND c.relname <> 'pg_shdepend' ORDER BY 1")


def _privileged(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    row = conn.execute(
        "SELECT r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls "
        "OR EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = r.oid) "
        "FROM pg_roles r WHERE r.rolname = current_user").fetchone()
    return row is None or bool(row[0])


def load(role_conn: ClusterConn, database: str, stream: io.BufferedReader, *, name: str = "dump.sql",
         max_statement_bytes: int = MAX_STATEMENT_BYTES) -> LoadResult:
    """Load the plain SQL of ``stream`` into ``database`` connected as ``role_conn`` (an ordinary
    role: the database's owner), in one transaction: all of it or nothing.

    Raise DumpRefused (a UsageError naming ``name`` and the line) for a psql meta-command, a
    statement pg_dump does not write or that would act outside the database, and PermanentError
    naming the line when PostgreSQL refuses a statement."""
    result = LoadResult()
    lexer = Lexer(stream, name=name, max_statement_bytes=max_statement_bytes)
    role = role_conn.user
    with connect(role_conn, database) as conn:
        if _privileged(conn):
            raise PermanentError(f"{name}: refusing to load as {role}: it has privileges beyond its own databases "
                                 "(superuser, CREATEROLE, replication, BYPASSRLS or a role membership)")
        extensions = {str(r[0]) for r in conn.execute(
            "SELECT name FROM pg_available_extension_versions WHERE trusted UNION SELECT extname FROM pg_extension")}
        try:
            with conn.transaction(), conn.cursor() as cur:
                for stmt in lexer.statements():
                    verdict = judge(stmt, extensions=extensions)
                    if verdict.action == "refuse":
                        raise lexer.refuse(stmt.line, verdict.reason)
                    if verdict.action == "skip":
                        result.skipped[verdict.reason] = result.skipped.get(verdict.reason, 0) + 1
                        continue
                    try:
                        if verdict.action == "copy":
                            with cur.copy(stmt.text) as copy:
                                for chunk in lexer.copy_data():
                                    copy.write(chunk)
                                    result.copy_bytes += len(chunk)
                        else:
                            # binary=True sends it with the extended protocol: one statement per
                            # message, so PostgreSQL refuses text that hides a second one.
                            cur.execute(stmt.text, binary=True)
                    except psycopg.Error as exc:
                        raise _refused_by_server(exc, name, stmt, role) from exc
                    result.statements += 1
                    if stmt.words[:2] == ["CREATE", "EXTENSION"]:
                        extensions.update(str(r[0]) for r in conn.execute("SELECT extname FROM pg_extension"))
                shared = [str(r[0]) for r in conn.execute(_SHARED_WRITES)]
                if shared:
                    raise DumpRefused(f"{name}: the dump changed objects shared with other databases "
                                      f"({', '.join(shared)}: a role or database setting, comment or privilege)")
        except psycopg.OperationalError as exc:
            raise PermanentError(f"{name}: the connection to PostgreSQL failed during the load: "
                                 f"{_first_line(exc)}") from exc
    result.bytes_read = lexer.bytes_read
    result.skipped.update(lexer.skipped)
    return result


def _refused_by_server(exc: psycopg.Error, name: str, stmt: Statement, role: str) -> OdooplaneError:
    diag = exc.diag
    message = diag.message_primary or _first_line(exc)
    line = stmt.line
    copied = re.search(r"\bCOPY \S+, line (\d+)", diag.context or "")
    if copied:  # a bad row of COPY data: its own line
        line += stmt.text.count(b"\n") + int(copied.group(1))
    elif diag.statement_position and diag.statement_position.isdigit():  # where in the statement
        line += stmt.text.decode("utf-8", "replace")[: int(diag.statement_position) - 1].count("\n")
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return DumpRefused(f"{name} line {line}: refused for role {role}, which the import runs as: {message}")
    return PermanentError(f"{name} line {line}: PostgreSQL stopped the load: {message}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
