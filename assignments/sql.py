"""The hot path's fixed SQL: the next-task gate, the claim, the control claim, the lease, the
submit's lock and its store. docs/next-task.md explains each statement; read it before changing
one.

These few statements are written out rather than composed with the ORM on every call: they run
before every task handed out and on every answer, and composing the equivalent querysets cost
more CPU than PostgreSQL spends executing them. Each is built once (``functools.cache``) from
model metadata and the models' enums, so the text is fixed at run time and never drifts from the
rest of the code:

* table names come from ``_meta``; status values from the enums, quoted by ``literal``;
* every value is a named parameter (``%(name)s``);
* every model row comes back through a ``config.rawsql.RowReader`` (the ORM's converters: JSON
  decoded, datetimes made aware) — the reader travels with its statement in a ``Statement``;
* the rules the statements share are written once, here: ``holds_slot`` (an assignment takes
  one of its task's slots), ``live_lease``, ``has_free_slot``, ``claimable`` and ``lock_clause``.

tests/assignments/test_sql.py checks each statement against the equivalent ORM queryset on the
same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.db import connection

from assignments.models import Assignment, Project, Task
from config.rawsql import RowReader, prepared_cursor
from qc.models import (
    ControlRate,
    GoldCheck,
    GoldExposure,
    GoldItem,
    GuideAcknowledgement,
    GuideVersion,
    ModelFit,
    QualityRule,
    RuleFiring,
)
from qc.services.control import RULE_PREFIX
from workforce.models import Labeler, Qualification, QualificationType, Skill, Vendor

# -- fragments ----------------------------------------------------------------------------------


def literal(value: str) -> str:
    """A constant of our own (an enum value) as an SQL string literal inside a statement that
    goes through the driver's ``%(name)s`` formatting: quotes doubled, ``%`` escaped."""
    return "'" + str(value).replace("'", "''").replace("%", "%%") + "'"


def lock_clause(clause: str) -> str:
    """The row-lock clause where the database has row locks. SQLite (the demo) has none: it
    serializes writers with its database lock, as the ORM's select_for_update does there."""
    return clause if connection.features.has_select_for_update else ""


def live_lease(alias: str) -> str:
    """The assignment row ``alias`` is a lease that has not run out at ``%(now)s``."""
    leased = literal(Assignment.Status.LEASED)
    return f"({alias}.status = {leased} AND {alias}.expires_at > %(now)s)"


def holds_slot(alias: str) -> str:
    """The assignment row ``alias`` takes one of its task's slots at ``%(now)s``: submitted, or a
    live lease. An expired lease frees its slot the moment it expires, whether or not
    ``leases_expire`` has marked it yet."""
    submitted = literal(Assignment.Status.SUBMITTED)
    return f"({alias}.status = {submitted} OR {live_lease(alias)})"


def has_free_slot(task: str, alias: str) -> str:
    """The task row ``task`` has fewer slot holders (``holds_slot``) than its ``target``;
    ``alias`` names the counted assignments."""
    a = Assignment._meta.db_table
    return (
        f"(SELECT COUNT(*) FROM {a} {alias}"  # noqa: S608 (identifiers from model metadata)
        f" WHERE {alias}.task_id = {task}.id AND {holds_slot(alias)}) < {task}.target"
    )


@dataclass(frozen=True)
class Statement:
    """A fixed statement and the readers of its row, in select-list order."""

    sql: str
    readers: tuple[RowReader, ...] = ()

    def read(self, row) -> tuple:
        """The row's models (one per reader, in order), then the values after them as they
        came."""
        out, at = [], 0
        for reader in self.readers:
            out.append(reader.read(row[at : at + len(reader)]))
            at += len(reader)
        return (*out, *row[at:])

    def one(self, params: dict) -> tuple | None:
        """Run the statement: its first row, read, or None when it returns none."""
        with prepared_cursor() as cursor:
            cursor.execute(self.sql, params)
            row = cursor.fetchone()
        return None if row is None else self.read(row)

    def all(self, params: dict) -> list[tuple]:
        """Run the statement: every row, read."""
        with prepared_cursor() as cursor:
            cursor.execute(self.sql, params)
            return [self.read(row) for row in cursor.fetchall()]


# -- the gate -----------------------------------------------------------------------------------


def _missing_qualification(project: str, column: str) -> str:
    """A required qualification type of project row ``project`` of which ``%(labeler)s`` holds
    no valid grant at ``%(now)s`` (not revoked, not superseded, not expired), the first by name:
    its ``column`` (``name`` or ``id``); NULL when they hold every one."""
    qtype = QualificationType._meta.db_table
    required = Project.required_qualifications.through._meta.db_table
    grant = Qualification._meta.db_table
    return f"""(SELECT qt.{column} FROM {qtype} qt
             JOIN {required} r ON r.qualificationtype_id = qt.id
            WHERE r.project_id = {project}.id
              AND NOT EXISTS (
                  SELECT 1 FROM {grant} q
                   WHERE q.labeler_id = %(labeler)s AND q.qualification_type_id = qt.id
                     AND q.revoked_at IS NULL AND q.superseded_at IS NULL
                     AND (q.expires_at IS NULL OR q.expires_at > %(now)s))
            ORDER BY qt.name, qt.id LIMIT 1)"""  # noqa: S608 (identifiers from model metadata)


def json_items(expr: str, alias: str) -> str:
    """A FROM item: the strings of the JSON array ``expr``, one row each, in the column
    ``{alias}.value`` (PostgreSQL's ``jsonb_array_elements_text``, SQLite's ``json_each``)."""
    if connection.vendor == "postgresql":
        return f"jsonb_array_elements_text({expr}) AS {alias}(value)"
    return f"json_each({expr}) AS {alias}"


def language_met(required: str, spoken: str) -> str:
    """The language code ``spoken`` meets the required code ``required`` (SQL expressions):
    equal, or ``required`` followed by a subtag (``pt`` is met by ``pt-BR``), ignoring case —
    BCP 47 tags are case-insensitive; RFC 4647's basic filtering. ``pt-BR`` is not met by
    ``pt``. ``assignments.selectors.gate.language_met`` is the same rule in Python."""
    return (
        f"(LOWER({spoken}) = LOWER({required})"
        f" OR SUBSTR(LOWER({spoken}), 1, LENGTH({required}) + 1) = LOWER({required}) || '-')"
    )


def _vendor_status(lock: bool) -> str:
    """The status of ``%(labeler)s``'s vendor (NULL for internal staff); with ``lock``, read
    under a ``FOR SHARE`` lock of the vendor row. That lock is what orders a claim against a
    vendor's suspension (docs/next-task.md, "Who may work on a project"): the suspension holds
    the row's ``FOR UPDATE`` lock while it ends the vendor's leases, so a claim that read the
    vendor first is waited for (and its lease then ended), and a claim that comes second waits
    for the suspension's commit and reads the new status (PostgreSQL re-reads a locked row that
    changed while it waited)."""
    v, labeler = Vendor._meta.db_table, Labeler._meta.db_table
    return f"""(SELECT v.status FROM {v} v
            WHERE v.id = (SELECT l.vendor_id FROM {labeler} l WHERE l.id = %(labeler)s)
            {lock_clause("FOR SHARE OF v") if lock else ""})"""  # noqa: S608


def _excluded(p: str) -> str:
    """Why project row ``p`` is closed to ``%(labeler)s`` whatever their skills:
    ``internal_only`` (a vendor labeler on an internal-only project), ``vendor_not_allowed``
    (a vendor labeler whose vendor is not among the project's allowed vendors, when it lists
    any), or NULL. Internal staff may work on a project that lists vendors."""
    labeler = Labeler._meta.db_table
    allowed = Project.allowed_vendors.through._meta.db_table
    internal = literal(Labeler.Kind.INTERNAL)
    return f"""(SELECT CASE
              WHEN l.kind = {internal} THEN NULL
              WHEN {p}.internal_only THEN 'internal_only'
              WHEN EXISTS (SELECT 1 FROM {allowed} av WHERE av.project_id = {p}.id)
               AND NOT EXISTS (SELECT 1 FROM {allowed} av
                                WHERE av.project_id = {p}.id AND av.vendor_id = l.vendor_id)
              THEN 'vendor_not_allowed' END
            FROM {labeler} l WHERE l.id = %(labeler)s)"""  # noqa: S608


def _missing_skill(p: str) -> str:
    """The name of a required skill of project row ``p`` that ``%(labeler)s`` lacks, the first
    by name; NULL when they have every one."""
    skill = Skill._meta.db_table
    required = Project.required_skills.through._meta.db_table
    held = Labeler.skills.through._meta.db_table
    return f"""(SELECT s.name FROM {skill} s JOIN {required} r ON r.skill_id = s.id
            WHERE r.project_id = {p}.id
              AND NOT EXISTS (SELECT 1 FROM {held} h
                               WHERE h.labeler_id = %(labeler)s AND h.skill_id = s.id)
            ORDER BY s.name, s.id LIMIT 1)"""  # noqa: S608


def _missing_language(p: str) -> str:
    """A language code of project row ``p``'s ``required_languages`` that none of
    ``%(labeler)s``'s languages meets (``language_met``), the first by code; NULL when every
    one is met."""
    labeler = Labeler._meta.db_table
    return f"""(SELECT r.value FROM {json_items(f"{p}.required_languages", "r")}
            WHERE NOT EXISTS (
                SELECT 1 FROM {labeler} l, {json_items("l.languages", "k")}
                 WHERE l.id = %(labeler)s AND {language_met("r.value", "k.value")})
            ORDER BY r.value LIMIT 1)"""  # noqa: S608


def _standing(p: str, *, lock: bool = False) -> str:
    """The gate's columns after the project's, for project row ``p`` (see ``gate``); ``lock``:
    the vendor's status under its share lock (the claim's gate; never a page's)."""
    t = {
        "labeler": Labeler._meta.db_table,
        "version": GuideVersion._meta.db_table,
        "ack": GuideAcknowledgement._meta.db_table,
        "assignment": Assignment._meta.db_table,
        "firing": RuleFiring._meta.db_table,
        "rate": ControlRate._meta.db_table,
    }
    published = literal(GuideVersion.Status.PUBLISHED)
    leased = literal(Assignment.Status.LEASED)
    firing_open = literal(RuleFiring.Status.OPEN)
    pause = literal(QualityRule.Action.PAUSE_ON_PROJECT)
    rule_reason = literal(RULE_PREFIX + "%")
    return f"""
          (SELECT l.status FROM {t["labeler"]} l WHERE l.id = %(labeler)s) AS _labeler_status,
          {_missing_qualification(p, "name")} AS _missing,
          EXISTS (SELECT 1 FROM {t["version"]} v
                   WHERE v.guide_id = {p}.guide_id AND v.status = {published}) AS _published,
          EXISTS (SELECT 1 FROM {t["ack"]} k JOIN {t["version"]} kv ON kv.id = k.version_id
                   WHERE k.labeler_id = %(labeler)s AND kv.guide_id = {p}.guide_id
                     AND kv.major = (SELECT cv.major FROM {t["version"]} cv
                                      WHERE cv.guide_id = {p}.guide_id
                                        AND cv.status = {published}
                                      ORDER BY cv.major DESC LIMIT 1)) AS _acknowledged,
          (SELECT a.id FROM {t["assignment"]} a
            WHERE a.labeler_id = %(labeler)s AND a.project_id = {p}.id AND NOT a.ahead
              AND {live_lease("a")}
            LIMIT 1) AS _live,
          EXISTS (SELECT 1 FROM {t["assignment"]} a
                   WHERE a.labeler_id = %(labeler)s AND a.project_id = {p}.id
                     AND a.status = {leased} AND a.expires_at <= %(now)s) AS _stale,
          EXISTS (SELECT 1 FROM {t["firing"]} f
                   WHERE f.labeler_id = %(labeler)s AND f.project_id = {p}.id
                     AND f.status = {firing_open} AND f.action = {pause}) AS _paused,
          (SELECT cr.rate FROM {t["rate"]} cr
            WHERE cr.labeler_id = %(labeler)s AND cr.project_id = {p}.id
              AND ({p}.adaptive_control OR cr.reason LIKE {rule_reason})) AS _control_rate,
          (SELECT a.id FROM {t["assignment"]} a
            WHERE a.labeler_id = %(labeler)s AND a.project_id = {p}.id AND a.ahead
              AND {live_lease("a")}
            LIMIT 1) AS _ahead,
          {_vendor_status(lock)} AS _vendor_status,
          {_excluded(p)} AS _excluded,
          {_missing_skill(p)} AS _missing_skill,
          {_missing_language(p)} AS _missing_language"""  # noqa: S608


@cache
def gate() -> Statement:
    """The next-task gate in one row: the project, then the labeler's status, the name of a
    required qualification type they lack (first by name), whether the guide has a published
    version, whether they acknowledged its current major, their live current lease in the
    project, a stale (run-out) lease of theirs there (of either kind), an open
    ``pause_on_project`` firing, their own control rate when it applies (the project adapts, or
    a quality rule set it), their live look-ahead lease in the project (``Assignment.ahead``:
    the labeler pages' next task), then who may work on the project: their vendor's status
    (read under the vendor row's share lock: ``_vendor_status``), whether the project is closed
    to them (``_excluded``), a required skill and a required language they lack.
    Parameters: ``labeler``, ``project``, ``now``."""
    project = RowReader(Project)
    sql = f"""
        SELECT {project.columns("p")},{_standing("p", lock=True)}
        FROM {Project._meta.db_table} p
        WHERE p.id = %(project)s
    """  # noqa: S608 (identifiers come from model metadata; values are parameters)
    return Statement(sql, (project,))


@cache
def gates() -> Statement:
    """The gate of every project a labeler may read (active and paused: ``project_list_for``),
    highest priority first then by id: one row per project with ``gate``'s columns, then the id
    of the missing qualification type that ``_missing`` names, and how many tasks wait for the
    labeler — the claim's own question (``claimable``) counted, up to ``%(cap)s``. Parameters:
    ``labeler``, ``now``, ``cap``. For a page that lists projects, never for the claim."""
    project = RowReader(Project)
    visible = ", ".join(literal(s) for s in (Project.Status.ACTIVE, Project.Status.PAUSED))
    t = Task._meta.db_table
    sql = f"""
        SELECT {project.columns("p")},{_standing("p")},
          {_missing_qualification("p", "id")} AS _missing_id,
          (SELECT COUNT(*) FROM (SELECT 1 FROM {t} t WHERE {claimable("t", "p.id")}
                                  LIMIT %(cap)s) _waiting) AS _waiting
        FROM {Project._meta.db_table} p
        WHERE p.status IN ({visible})
        ORDER BY p.priority DESC, p.id
    """  # noqa: S608 (identifiers come from model metadata; values are parameters)
    return Statement(sql, (project,))


# -- the claim ----------------------------------------------------------------------------------


# What the claim reads of a task: what the labeler is shown, nothing that tells a control task
# apart.
TASK_SHOWN = ("id", "payload", "prelabel", "prelabel_confidence")


@cache
def _task_reader() -> RowReader:
    return RowReader(Task, [Task._meta.get_field(name) for name in TASK_SHOWN])


def claimable(task: str, project: str) -> str:
    """The task row ``task`` is one the claim may hand ``%(labeler)s`` in project ``project``
    (an SQL expression) at ``%(now)s``: open, never touched by them, with a free slot. The
    open-queue index predicate plus two index probes per row."""
    a = Assignment._meta.db_table
    return f"""{task}.is_open AND {task}.project_id = {project}
           AND NOT EXISTS (SELECT 1 FROM {a} d WHERE d.task_id = {task}.id
                                                 AND d.labeler_id = %(labeler)s)
           AND {has_free_slot(task, "u")}"""  # noqa: S608 (identifiers from model metadata)


@cache
def claim(lock: bool = True) -> Statement:
    """Step 3 of docs/next-task.md: the highest-priority open task of ``%(project)s`` that
    ``%(labeler)s`` has not touched and that has a free slot at ``%(now)s``, locked (skipping
    rows other claims hold). Its WHERE is the open-queue index predicate plus two index probes
    per candidate row. Without ``lock``: the same question, no row locked or skipped."""
    t = Task._meta.db_table
    task = _task_reader()
    return Statement(
        f"""
        SELECT {task.columns("t")} FROM {t} t
         WHERE {claimable("t", "%(project)s")}
         ORDER BY t.priority DESC, t.id
         LIMIT 1
         {lock_clause("FOR NO KEY UPDATE OF t SKIP LOCKED") if lock else ""}
    """,  # noqa: S608 (identifiers come from model metadata; values are parameters)
        (task,),
    )


# The control pick looks at this many control tasks on each side of its random pivot before it
# falls back to scanning all of the project's (only a labeler who met that many in a row does).
CONTROL_WINDOW = 64


@cache
def control_claim() -> Statement:
    """A control task of ``%(project)s`` that ``%(labeler)s`` has never met, picked from a
    random pivot ``%(u)s`` in [0, 1) between the lowest and highest item id of the control gold
    set ``%(gold_set)s`` (``assignment_claim_next``'s control branch says what "met" means).

    Each exclusion is a correlated ``(SELECT … LIMIT 1) IS NULL`` rather than ``NOT EXISTS``: a
    ``NOT EXISTS`` lets the planner turn it into an anti-join, or a hashed sub-plan, that reads
    all of the labeler's exposures and checks (or every labeler's rows of the items); this way
    each exclusion is one index probe per candidate. The candidates are the first
    ``CONTROL_WINDOW`` control tasks from the pivot in gold item order
    (``assignments_task_controls``), then as many before it; only when none of those passes are
    all the project's control tasks tried, in random order."""
    t, a = Task._meta.db_table, Assignment._meta.db_table
    g, e, c = GoldItem._meta.db_table, GoldExposure._meta.db_table, GoldCheck._meta.db_table
    active = literal(GoldItem.Status.ACTIVE)
    eligible = f"""t.project_id = %(project)s AND t.gold_item_id IS NOT NULL
           AND (SELECT g.status FROM {g} g WHERE g.id = t.gold_item_id) = {active}
           AND (SELECT 1 FROM {t} s JOIN {a} d ON d.task_id = s.id
                 WHERE s.gold_item_id = t.gold_item_id AND d.labeler_id = %(labeler)s
                 LIMIT 1) IS NULL
           AND (SELECT 1 FROM {e} e WHERE e.labeler_id = %(labeler)s
                                      AND e.gold_item_id = t.gold_item_id LIMIT 1) IS NULL
           AND (SELECT 1 FROM {c} c WHERE c.labeler_id = %(labeler)s
                                      AND c.gold_item_id = t.gold_item_id LIMIT 1) IS NULL"""  # noqa: S608
    task = _task_reader()
    columns = task.columns("t")
    controls = f"SELECT * FROM {t} WHERE project_id = %(project)s AND gold_item_id IS NOT NULL"  # noqa: S608
    return Statement(
        f"""
        WITH pivot AS (
            SELECT lo + CAST(%(u)s * (hi - lo) AS BIGINT) AS at
              FROM (SELECT MIN(id) AS lo, MAX(id) AS hi FROM {g}
                     WHERE gold_set_id = %(gold_set)s) bounds
        )
        SELECT * FROM (SELECT {columns}
                         FROM ({controls} AND gold_item_id >= (SELECT at FROM pivot)
                               ORDER BY gold_item_id LIMIT {CONTROL_WINDOW}) t
                        WHERE {eligible} ORDER BY t.gold_item_id LIMIT 1) after_pivot
        UNION ALL
        SELECT * FROM (SELECT {columns}
                         FROM ({controls} AND gold_item_id < (SELECT at FROM pivot)
                               ORDER BY gold_item_id LIMIT {CONTROL_WINDOW}) t
                        WHERE {eligible} ORDER BY t.gold_item_id LIMIT 1) before_pivot
        UNION ALL
        SELECT * FROM (SELECT {columns} FROM {t} t
                        WHERE {eligible} ORDER BY random() LIMIT 1) any_left
        LIMIT 1
    """,  # noqa: S608 (identifiers come from model metadata; values are parameters)
        (task,),
    )


@cache
def lease(control: bool, ahead: bool = False) -> Statement:
    """Insert ``%(labeler)s``'s lease of task ``%(task)s`` of ``%(project)s`` (``%(control)s``:
    a control task), leased at ``%(now)s`` until ``%(expires)s``, and return it; ``ahead``: a
    look-ahead lease (``Assignment.ahead``). A real task's lease is inserted only if the task
    still has a free slot, counted afresh (a new statement sees every committed lease) while the
    caller holds the task row's lock; a control task has no slots."""
    a, t = Assignment._meta.db_table, Task._meta.db_table
    assignment = RowReader(Assignment)
    slot_check = "1 = 1" if control else has_free_slot("t", "x")
    returning = ", ".join(f.column for f in assignment.fields)
    return Statement(
        f"""INSERT INTO {a} (task_id, project_id, labeler_id, is_control, status, leased_at,
                             expires_at, ahead)
            SELECT t.id, %(project)s, %(labeler)s, %(control)s,
                   {literal(Assignment.Status.LEASED)}, %(now)s, %(expires)s,
                   {"TRUE" if ahead else "FALSE"} FROM {t} t
            WHERE t.id = %(task)s AND {slot_check}
            RETURNING {returning}""",  # noqa: S608 (identifiers come from model metadata)
        (assignment,),
    )


# -- the look-ahead lease's promotion ------------------------------------------------------------


@cache
def promote_lock() -> Statement:
    """The promotion's first statement: look-ahead lease ``%(assignment)s`` of ``%(labeler)s``
    locked, then its task's row (``FOR … OF a, t`` locks in that order, the submit's order:
    assignment, then task), returning the task as the claim reads it. Waits for a claim that
    holds the task row: the promotion's slot count (``promote``) must see that claim's lease."""
    a, t = Assignment._meta.db_table, Task._meta.db_table
    task = _task_reader()
    return Statement(
        f"""
        SELECT {task.columns("t")} FROM {a} a JOIN {t} t ON t.id = a.task_id
         WHERE a.id = %(assignment)s AND a.labeler_id = %(labeler)s
         {lock_clause("FOR NO KEY UPDATE OF a, t")}
    """,  # noqa: S608 (identifiers come from model metadata; values are parameters)
        (task,),
    )


@cache
def promote() -> Statement:
    """Make look-ahead lease ``%(assignment)s`` the current one, if it is still a live
    look-ahead lease at ``%(now)s``, and return it (no row: it is not, any more). Its
    ``leased_at`` becomes ``%(now)s``: the labeler's time on it starts now, not while they were
    on the task before (a submission's ``active_seconds``, which hourly pay and throughput
    count, is measured from it). Its expiry
    becomes ``%(expires)s`` when that is later and the lease still has its slot — counted afresh
    under the task row's lock that ``promote_lock`` took: the holders of its task's slots,
    itself included, do not outnumber the target (a claim that saw the lease as run out, at a
    later ``now`` than ours, may have taken its slot; then the expiry stays as it was). A control
    task has no slots."""
    a, t = Assignment._meta.db_table, Task._meta.db_table
    assignment = RowReader(Assignment)
    returning = ", ".join(f.column for f in assignment.fields)
    kept = f"""(SELECT COUNT(*) FROM {a} x WHERE x.task_id = a.task_id AND {holds_slot("x")})
               <= (SELECT t.target FROM {t} t WHERE t.id = a.task_id)"""  # noqa: S608
    return Statement(
        f"""UPDATE {a} AS a SET ahead = FALSE, leased_at = %(now)s,
                   expires_at = CASE WHEN a.expires_at < %(expires)s AND (a.is_control OR {kept})
                                     THEN %(expires)s ELSE a.expires_at END
             WHERE a.id = %(assignment)s AND a.labeler_id = %(labeler)s AND a.ahead
               AND {live_lease("a")}
         RETURNING {returning}""",  # noqa: S608 (identifiers come from model metadata)
        (assignment,),
    )


# -- the submit ---------------------------------------------------------------------------------


@cache
def submit_lock() -> Statement:
    """The submit's first statement: assignment ``%(assignment)s`` of ``%(labeler)s`` locked,
    with its project. The same for real and control tasks."""
    a, p = RowReader(Assignment), RowReader(Project)
    return Statement(
        f"""
        SELECT {a.columns("a")}, {p.columns("p")}
          FROM {Assignment._meta.db_table} a
          JOIN {Project._meta.db_table} p ON p.id = a.project_id
         WHERE a.id = %(assignment)s AND a.labeler_id = %(labeler)s
         {lock_clause("FOR NO KEY UPDATE OF a")}
    """,  # noqa: S608 (identifiers come from model metadata; values are parameters)
        (a, p),
    )


@dataclass(frozen=True)
class Store:
    """The submit's store: PostgreSQL's one statement, and SQLite's two."""

    both: Statement
    count: Statement
    store: Statement


@cache
def store() -> Store:
    """The submit's store. Parameters: ``task``, ``control``, ``assignment``, ``answer``,
    ``now``, ``active``; the row is ``(filled,)``, or none when a real task has no slot left.

    The count takes a slot on a real task: ``submitted < target`` under the task row's lock (the
    on-time lease held that slot; the guard refuses the rare submit whose slot a claim re-counted
    as free at the very instant of expiry). On a control task (``%(control)s``, no slots) it
    matches no row, and the store does not wait for it. One text for both kinds: the same
    statement, the same plan shape."""
    t = Task._meta.db_table
    a = Assignment._meta.db_table
    complete = literal(Task.State.COMPLETE)
    submitted = literal(Assignment.Status.SUBMITTED)
    count_sql = f"""UPDATE {t} SET submitted = submitted + 1,
                                   is_open = (submitted + 1 < target),
                                   state = CASE WHEN submitted + 1 >= target THEN {complete}
                                                ELSE state END
                     WHERE id = %(task)s AND submitted < target AND NOT %(control)s
                 RETURNING submitted >= target AS filled"""  # noqa: S608
    store_sql = f"""UPDATE {a} SET status = {submitted}, answer = %(answer)s,
                                   submitted_at = %(now)s, active_seconds = %(active)s
                     WHERE id = %(assignment)s"""  # noqa: S608
    both = f"""WITH counted AS ({count_sql})
               {store_sql} AND (%(control)s OR EXISTS (SELECT 1 FROM counted))
               RETURNING (SELECT filled FROM counted)"""  # noqa: S608
    return Store(Statement(both), Statement(count_sql), Statement(store_sql))


def id_list(name: str, n: int) -> str:
    """``n`` named parameters ``%(name0)s, …`` for an ``IN`` list (``id_params`` fills them)."""
    return ", ".join(f"%({name}{i})s" for i in range(n))


def id_params(name: str, ids) -> dict:
    """The parameters of ``id_list(name, len(ids))``."""
    return {f"{name}{i}": pk for i, pk in enumerate(ids)}


@cache
def follow_up(n: int = 1) -> Statement:
    """The submission follow-up's read (``submissions_follow_up``, in the worker, once per
    batch): submitted assignments ``%(assignment0)s`` … (``n`` of them; the unknown and the
    unsubmitted have no row), each with its task's state and the task's last submission time
    (read into the third reader's ``submitted_at``: when the task's last label came in)."""
    names = ("id", "is_control", "task")
    a = RowReader(Assignment, [Assignment._meta.get_field(n) for n in names])
    t = RowReader(Task, [Task._meta.get_field("state")])
    last = RowReader(Assignment, [Assignment._meta.get_field("submitted_at")])
    submitted = literal(Assignment.Status.SUBMITTED)
    table = Assignment._meta.db_table
    return Statement(
        f"""
        SELECT {a.columns("a")}, {t.columns("t")},
               (SELECT b.submitted_at FROM {table} b
                 WHERE b.task_id = a.task_id AND b.status = {submitted}
                 ORDER BY b.submitted_at DESC LIMIT 1)
          FROM {table} a
          LEFT JOIN {Task._meta.db_table} t ON t.id = a.task_id
         WHERE a.id IN ({id_list("assignment", n)}) AND a.status = {submitted}
    """,  # noqa: S608 (identifiers come from model metadata; values are parameters)
        (a, t, last),
    )


@cache
def consensus_lock(n: int = 1) -> Statement:
    """Consensus's first statement (``tasks_consensus_run``, in the worker, once per batch of
    completed tasks): tasks ``%(task0)s`` … (``n`` of them, ``id_params("task", ids)``)
    locked in id order, each with its project."""
    t, p = RowReader(Task), RowReader(Project)
    return Statement(
        f"""
        SELECT {t.columns("t")}, {p.columns("p")}
          FROM {Task._meta.db_table} t
          JOIN {Project._meta.db_table} p ON p.id = t.project_id
         WHERE t.id IN ({id_list("task", n)})
         ORDER BY t.id
         {lock_clause("FOR NO KEY UPDATE OF t")}
    """,  # noqa: S608 (identifiers come from model metadata; values are parameters)
        (t, p),
    )


@cache
def task_answers(n: int = 1) -> Statement:
    """The submitted real answers of tasks ``%(task0)s`` … (``n`` of them), by task and in
    submission order (``task_answers``, ``tasks_consensus_run``): rows of one assignment each,
    read with the fields ``id``, ``task``, ``labeler``, ``answer``, ``submitted_at`` and
    ``active_seconds``."""
    names = ("id", "task", "labeler", "answer", "submitted_at", "active_seconds")
    a = RowReader(Assignment, [Assignment._meta.get_field(n) for n in names])
    return Statement(
        f"""
        SELECT {a.columns("a")} FROM {Assignment._meta.db_table} a
         WHERE a.task_id IN ({id_list("task", n)})
           AND a.status = {literal(Assignment.Status.SUBMITTED)} AND NOT a.is_control
         ORDER BY a.task_id, a.submitted_at, a.id
    """,  # noqa: S608 (identifiers come from model metadata; values are parameters)
        (a,),
    )


@cache
def consensus_decide() -> Statement:
    """A decided task's write (``tasks_consensus_run``): task ``%(task)s`` gets its final
    answer ``%(answer)s`` (prepared as the field stores it), ``%(agreement)s``,
    ``%(confidence)s``, ``decided_at`` ``%(now)s``, ``decided_by`` consensus and state
    resolved — only while it is complete and undecided. One row ``(id,)`` when it wrote."""
    t = Task._meta.db_table
    return Statement(
        f"""
        UPDATE {t} SET final_answer = %(answer)s,
               decided_by = {literal(Task.DecidedBy.CONSENSUS)},
               agreement = %(agreement)s, confidence = %(confidence)s, decided_at = %(now)s,
               state = {literal(Task.State.RESOLVED)}
         WHERE id = %(task)s AND state = {literal(Task.State.COMPLETE)} AND decided_by = ''
        RETURNING id
    """  # noqa: S608 (identifiers come from model metadata; values are parameters)
    )


@cache
def project_finished() -> Statement:
    """Whether project ``%(project)s`` is due a refit because its labels are all in
    (``project_refit_if_finished``): it refits on counted labels (``refit_every`` > 0), has
    been fitted before, and has no open task left (the open-task queue's partial index). One
    row ``(due,)``; none for an unknown project."""
    return Statement(
        f"""
        SELECT p.refit_every <> 0
               AND EXISTS (SELECT 1 FROM {ModelFit._meta.db_table} f WHERE f.project_id = p.id)
               AND NOT EXISTS (SELECT 1 FROM {Task._meta.db_table} t
                                WHERE t.project_id = p.id AND t.is_open)
          FROM {Project._meta.db_table} p
         WHERE p.id = %(project)s
    """  # noqa: S608 (identifiers come from model metadata; values are parameters)
    )
