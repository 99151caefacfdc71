"""Writes of quality rules: defining them, evaluating them for a labeler, and reversing what they
did. See docs/quality.md ("Rules") for the semantics in prose.

Two tests. An ``interval`` rule (every rule made before the sequential test existed, and the
default of the service and of warn rules) watches one metric of a labeler on one project over
their last ``window`` observations —
``gold_accuracy`` (counted gold checks, newest ``checked_at`` first) or ``final_agreement``
(``LabelOutcome.agrees_final``, newest ``decided_at`` first) — takes the Wilson 95% interval of
it and compares one of its figures (the lower bound, the upper bound or the observed rate) with
a threshold. Fewer than ``min_n`` observations: the rule says nothing.

A ``sequential`` rule (the API's and the admin's default for a new rule that pauses, suspends or
revokes) runs ``qc.sequential.monitor`` over all the labeler's observations of the metric in
order, since the rule's last firing for them was lifted or reversed (the test restarts there),
and fires when the score first reached its boundary (at or after the rule's creation:
``monitor``'s ``watch_from``): a labeler at exactly the threshold is
paused within ``DEFAULT_HORIZON`` observations with probability at most ``alpha``, however often
the rule is evaluated (``window``, ``min_n`` and ``bound`` are not used). With ``auto_lift``, an
open pause of a sequential rule is ``lifted`` by the sweep once the labeler has passed the
rule's ``lift_quiz`` in an attempt started after the pause fired; the test then restarts from
the lift. Without it, ops lift the pause (``rule_firing_reverse``).

Once per breach. A breach with no open firing for (rule, labeler) inserts a ``RuleFiring`` with
``INSERT … ON CONFLICT DO NOTHING`` against the partial unique index
``qc_rulefiring_one_open_breach``; only the evaluation whose insert returned a row performs the
action, in the same transaction, so racing evaluations fire once. When the labeler is back
within the rule, an open ``warn`` or ``lower_control_rate`` firing is ``cleared`` (the next
breach fires again). ``pause_on_project``, ``revoke_qualification`` and ``suspend`` stay open
until ops reverse them: a paused labeler gets no work on the project and cannot recover alone.
A reversed firing does not start a new breach either: the rule fires again for that labeler
only after they have been back within it once (the evaluation then stamps the reversed firing's
``cleared_at``).

When. Rules are decided on the facts recorded before the start of the current day (UTC) —
the cut-off of the labeler's own scorecard, ``qc.selectors.quality_facts.start_of_day`` — and only
by the periodic sweep (``rules_sweep``, the beat job ``assignments.quality_rules_sweep``), never
after a submission. A pause, a warning, a clearing or a lowered control rate therefore rests on
whole past days and happens at a time no single submission explains: a labeler cannot tell from
a rule's effect which of their tasks was a control task. Each firing stores that cut-off
(``RuleFiring.as_of``). Ops's own acts (reversing a firing, changing or turning off a rule) take
effect at once. See docs/quality.md, "Rules" and "Secrecy of control tasks".

Automatic actions have no actor (``actor=None``); the reason text names the rule and the
interval. workforce has no system user.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from config.errors import Conflict, NotFound
from config.services import model_update, with_defaults
from qc import signals as qc_signals
from qc.models import (
    QUALITY_RULE_SETTINGS,
    ControlRate,
    GoldCheck,
    LabelOutcome,
    QualityRule,
    Quiz,
    QuizAttempt,
    RuleFiring,
)
from qc.selectors.quality_facts import start_of_day
from qc.sequential import MonitorParams, MonitorResult, monitor
from qc.stats import wilson
from workforce import services as workforce_services
from workforce.models import Labeler, Qualification, QualificationType, User

A = QualityRule.Action
M = QualityRule.Metric
ST = RuleFiring.Status
T = QualityRule.Test

#: Actions whose firing clears by itself when the labeler is back within the rule.
SELF_CLEARING = frozenset({A.WARN, A.LOWER_CONTROL_RATE})
#: Actions a sequential rule may take (and for which a new rule defaults to it): the ones that
#: take work away, whose false firings cost most. Warnings and control rates clear by
#: themselves and stay on the interval.
SEQUENTIAL_ACTIONS = frozenset({A.PAUSE_ON_PROJECT, A.SUSPEND, A.REVOKE_QUALIFICATION})
#: A rule's settings (``qc.models.QUALITY_RULE_SETTINGS``): what ``rule_create`` and
#: ``rule_update`` take.
RULE_SETTINGS = QUALITY_RULE_SETTINGS
RULE_EDITABLE_FIELDS = frozenset(RULE_SETTINGS)
NAME_MAX = QualityRule._meta.get_field("name").max_length
REASON_MAX = ControlRate._meta.get_field("reason").max_length
MAX_REVERSE_REASON = 2000

_METRIC_TEXT = {
    M.GOLD_ACCURACY: ("gold accuracy", "control tasks"),
    M.FINAL_AGREEMENT: ("agreement with the final label", "decided tasks"),
}
_BOUND_TEXT = {"lower": "lower bound", "upper": "upper bound", "rate": "observed rate"}


# -- defining rules -----------------------------------------------------------------------------


def default_test(action: str) -> str:
    """The test a new rule gets when its maker names none (the API and the admin): sequential
    for the actions that take work away, the interval otherwise."""
    return T.SEQUENTIAL if action in SEQUENTIAL_ACTIONS else T.INTERVAL


def _decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _clean_sequential(
    values: dict[str, Any], out: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    """The sequential test's settings: alpha and beta in (0, 0.5), delta in (0, threshold),
    3 decimals; a sequential rule compares accuracy below its threshold and acts by pausing,
    suspending or revoking; automatic lift is for sequential pauses and needs a quiz."""
    for field, low, high, text in (
        ("alpha", 0, Decimal("0.5"), "between 0 and 0.5 (both excluded)"),
        ("beta", 0, Decimal("0.5"), "between 0 and 0.5 (both excluded)"),
        ("delta", 0, 1, "between 0 and 1 (both excluded)"),
    ):
        number = _decimal(values.get(field))
        if number is None or isinstance(values.get(field), bool):
            errors[field] = [f"A number {text}."]
        elif not (low < number < high):
            errors[field] = [f"The {field} lies {text}."]
        elif number.as_tuple().exponent < -3:
            errors[field] = ["At most 3 decimal places."]
        else:
            out[field] = number
    test = values.get("test")
    if test not in T.values:
        errors["test"] = [f"Choose one of: {', '.join(T.values)}."]
    auto_lift = values.get("auto_lift")
    if not isinstance(auto_lift, bool):
        errors["auto_lift"] = ["true or false."]
    quiz = values.get("lift_quiz")
    if quiz is not None and not isinstance(quiz, Quiz):
        errors["lift_quiz"] = ["Unknown quiz."]
    if test == T.SEQUENTIAL:
        action = values.get("action")
        if action in A.values and action not in SEQUENTIAL_ACTIONS:
            errors["test"] = [
                "A sequential test is for rules that pause, suspend or revoke; warnings and "
                "control rates use the interval."
            ]
        if values.get("comparison") == QualityRule.Comparison.ABOVE:
            errors["comparison"] = ["A sequential rule fires when accuracy is below the threshold."]
        threshold, delta = out.get("threshold"), out.get("delta")
        settled = "threshold" not in errors and "delta" not in errors
        if settled and not (threshold - delta > 0 and threshold < 1):
            errors["delta"] = [
                "A sequential rule needs 0 < threshold - delta and a threshold below 1."
            ]
        if auto_lift is True:
            if action != A.PAUSE_ON_PROJECT:
                errors["auto_lift"] = ["Only a pause lifts automatically."]
            elif quiz is None and "lift_quiz" not in errors:
                errors["lift_quiz"] = ["An automatic lift needs the quiz whose pass lifts it."]
    elif auto_lift is True:
        errors["auto_lift"] = ["Only a sequential rule's pause lifts automatically."]
    if auto_lift is not True:
        out["lift_quiz"] = None


def _clean_rule(values: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    """Validate a rule's full set of values (create, or the merge of an update), field by
    field; returns them normalised (threshold a Decimal, unused action settings None)."""
    out = dict(values)
    name = (values.get("name") or "").strip()
    if not name:
        errors["name"] = ["A name is required."]
    elif len(name) > NAME_MAX:
        errors["name"] = [f"At most {NAME_MAX} characters."]
    out["name"] = name
    for field, choices in (
        ("metric", QualityRule.Metric),
        ("bound", QualityRule.Bound),
        ("comparison", QualityRule.Comparison),
        ("action", QualityRule.Action),
    ):
        if values.get(field) not in choices.values:
            errors[field] = [f"Choose one of: {', '.join(choices.values)}."]

    window, min_n = values.get("window"), values.get("min_n")
    if not isinstance(window, int) or isinstance(window, bool) or window < 1:
        errors["window"] = ["The window is a whole number of observations, at least 1."]
    if not isinstance(min_n, int) or isinstance(min_n, bool) or min_n < 1:
        errors["min_n"] = ["The minimum is a whole number of observations, at least 1."]
    elif "window" not in errors and min_n > window:
        errors["min_n"] = ["The minimum number of observations cannot exceed the window."]

    try:
        threshold = Decimal(str(values.get("threshold")))
        if not threshold.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors["threshold"] = ["A number between 0 and 1."]
    else:
        if not (0 <= threshold <= 1):
            errors["threshold"] = ["The threshold lies between 0 and 1."]
        elif threshold.as_tuple().exponent < -3:
            errors["threshold"] = ["At most 3 decimal places."]
        out["threshold"] = threshold

    action = values.get("action")
    qtype = values.get("qualification_type")
    if action == A.REVOKE_QUALIFICATION:
        if qtype is None:
            errors["qualification_type"] = ["The revoke action needs a qualification type."]
        elif not isinstance(qtype, QualificationType):
            errors["qualification_type"] = ["Unknown qualification type."]
    else:
        out["qualification_type"] = None
    rate = values.get("control_rate")
    if action == A.LOWER_CONTROL_RATE:
        if rate is None or isinstance(rate, bool) or not isinstance(rate, int | float | Decimal):
            errors["control_rate"] = ["The lower-control-rate action needs a rate."]
        elif not (0 <= float(rate) <= 0.5):
            errors["control_rate"] = ["The control rate lies between 0 and 0.5."]
        else:
            out["control_rate"] = float(rate)
    else:
        out["control_rate"] = None
    _clean_drift(values, out, errors)
    _clean_sequential(values, out, errors)
    return out


#: What a ``label_drift`` rule may do (it watches a project's batches, not a labeler).
DRIFT_ACTIONS = frozenset({A.WARN, A.PAUSE_PROJECT})


def _clean_drift(values: dict[str, Any], out: dict[str, Any], errors: dict[str, list[str]]) -> None:
    """A ``label_drift`` rule fires on a batch's drift event when its p-value is below the
    threshold (``assignments.services.drift``): it warns or pauses the project, and its
    threshold is a p-value above 0. Pausing the project is for drift rules only."""
    metric, action = values.get("metric"), values.get("action")
    if metric == M.LABEL_DRIFT:
        if action in A.values and action not in DRIFT_ACTIONS:
            errors["action"] = ["A label-drift rule warns or pauses the project."]
        if "threshold" not in errors and out.get("threshold") == 0:
            errors["threshold"] = ["A label-drift rule's threshold is a p-value above 0."]
    elif action == A.PAUSE_PROJECT and metric in M.values:
        errors["action"] = ["Pausing the project is for label-drift rules only."]


def rule_create(
    *,
    actor: User | None,
    project_id: int,
    name: str,
    action: str,
    threshold: Decimal | float | str,
    project_exists: Callable[[int], bool] | None = None,
    **settings: Any,
) -> QualityRule:
    """Define a rule on a project. ``settings`` are any other of ``RULE_SETTINGS``; one left
    out takes the model field's default (``test`` the interval: callers in code say what they
    want; the API and the admin default by action, ``default_test``). A keyword outside them is
    a TypeError, as for any function. qc cannot see projects (it sits below ``assignments``), so
    the caller that can passes ``project_exists``; without it only the id's form is checked.

    Raises ValidationError with a message per field: threshold in [0, 1] (3 decimals), window ≥
    1, 1 ≤ min_n ≤ window, a qualification type for the revoke action, a control rate in
    [0, 0.5] for the lower-control-rate action; for a sequential test alpha and beta in
    (0, 0.5), 0 < threshold - delta, threshold < 1, comparison below, an action that pauses,
    suspends or revokes, and a lift quiz with ``auto_lift`` (a pause only); settings the chosen
    action does not use are stored empty. One INSERT."""
    unknown = sorted(set(settings) - RULE_EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"rule_create() got unexpected keyword arguments: {', '.join(unknown)}")
    errors: dict[str, list[str]] = {}
    if not isinstance(project_id, int) or isinstance(project_id, bool) or project_id < 1:
        errors["project"] = ["A project id."]
    elif project_exists is not None and not project_exists(project_id):
        errors["project"] = ["Unknown project."]
    given = {**settings, "name": name, "action": action, "threshold": threshold}
    values = _clean_rule(with_defaults(QualityRule, RULE_SETTINGS, given), errors)
    if errors:
        raise ValidationError(errors)
    values["is_active"] = bool(values["is_active"])
    with transaction.atomic():
        return QualityRule.objects.create(project_id=project_id, created_by=actor, **values)


def rule_update(*, actor: User | None, rule: QualityRule, data: dict[str, Any]) -> QualityRule:
    """Change a rule's settings (``RULE_EDITABLE_FIELDS``; the project never changes). The
    merged values are validated as in ``rule_create``. Turning a rule off is
    ``rule_deactivate``'s job and is done through it. Firings already made keep their own
    action and inputs. Raises ValidationError."""
    unknown = sorted(set(data) - RULE_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in unknown})
    with transaction.atomic():
        rule = QualityRule.objects.select_for_update().get(pk=rule.pk)
        current = {name: getattr(rule, name) for name in RULE_EDITABLE_FIELDS}
        merged = {**current, **data}
        errors: dict[str, list[str]] = {}
        values = _clean_rule(merged, errors)
        if errors:
            raise ValidationError(errors)
        active = bool(values.pop("is_active"))
        deactivate = rule.is_active and not active
        values["is_active"] = rule.is_active if deactivate else active
        # Checked above by _clean_rule, hence no full_clean.
        model_update(instance=rule, fields=RULE_EDITABLE_FIELDS, data=values, full_clean=False)
        if deactivate:
            rule = rule_deactivate(actor=actor, rule=rule)
    return rule


def rule_deactivate(*, actor: User | None, rule: QualityRule) -> QualityRule:
    """Turn a rule off: it is no longer evaluated. Its open ``warn`` and ``lower_control_rate``
    firings are cleared (a lowered control rate is put back, see ``_control_rate_restore``);
    pauses, revocations and suspensions stay until ops reverse them. Idempotent."""
    now = timezone.now()
    with transaction.atomic():
        QualityRule.objects.filter(pk=rule.pk).update(is_active=False)
        _clear(
            RuleFiring.objects.select_for_update().filter(
                rule_id=rule.pk, status=ST.OPEN, action__in=SELF_CLEARING
            ),
            now=now,
        )
    rule.refresh_from_db()
    return rule


# -- evaluating ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    table: str
    flag: str  # the boolean column counted as a success
    order: str  # the column the window runs back along
    extra: str  # further conditions


def _source(metric: str) -> _Source:
    if metric == M.GOLD_ACCURACY:
        return _Source(GoldCheck._meta.db_table, "correct", "checked_at", "AND counted")
    return _Source(LabelOutcome._meta.db_table, "agrees_final", "decided_at", "")


def window_counts(
    *,
    metric: str,
    labeler_id: int,
    project_id: int,
    windows: Iterable[int],
    before: datetime | None = None,
) -> dict[int, tuple[int, int]]:
    """``{window: (n, successes)}`` over the labeler's last ``window`` observations of the
    metric on the project — recorded before ``before`` when given — for every window asked, in
    one query: the newest ``max(windows)`` rows are numbered newest first and each window sums
    the rows numbered within it."""
    windows = sorted({int(w) for w in windows})
    if not windows:
        return {}
    src = _source(metric)
    q = connection.ops.quote_name
    cutoff, params = "", [labeler_id, project_id]
    if before is not None:
        cutoff = f"AND {q(src.order)} < %s"
        params.append(connection.ops.adapt_datetimefield_value(before))
    sums = ", ".join(
        f"SUM(CASE WHEN rn <= {w} THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN rn <= {w} AND ok THEN 1 ELSE 0 END)"
        for w in windows
    )
    sql = f"""
        SELECT {sums} FROM (
            SELECT {q(src.flag)} AS ok,
                   ROW_NUMBER() OVER (ORDER BY {q(src.order)} DESC, id DESC) AS rn
              FROM {q(src.table)}
             WHERE labeler_id = %s AND project_id = %s {src.extra} {cutoff}
             ORDER BY {q(src.order)} DESC, id DESC
             LIMIT %s
        ) recent
    """  # noqa: S608 (identifiers come from model metadata, windows are ints; values are params)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, windows[-1]])
        row = cursor.fetchone()
    return {w: (int(row[2 * i] or 0), int(row[2 * i + 1] or 0)) for i, w in enumerate(windows)}


def rule_inputs(rule: QualityRule, n: int, successes: int) -> tuple[dict[str, Any], bool]:
    """The figures a rule is decided on — n, successes, the Wilson 95% interval, the compared
    value — and whether they breach it. Pure; no query."""
    interval = wilson(successes, n)
    value = {"lower": interval.low, "upper": interval.high, "rate": interval.rate}[rule.bound]
    threshold = float(rule.threshold)
    if value is None:  # n == 0: nothing observed
        breach = False
    elif rule.comparison == QualityRule.Comparison.BELOW:
        breach = value < threshold
    else:
        breach = value > threshold
    return _interval_inputs(rule, n, successes, rule.comparison, value), breach


def _interval_inputs(
    rule: QualityRule, n: int, successes: int, comparison: str, value: float | None
) -> dict[str, Any]:
    """The figures every firing has: n, successes, the Wilson 95% interval, the rule's terms."""
    interval = wilson(successes, n)
    return {
        "metric": rule.metric,
        "n": n,
        "successes": successes,
        "rate": interval.rate,
        "lower": interval.low,
        "upper": interval.high,
        "window": rule.window,
        "min_n": rule.min_n,
        "threshold": str(rule.threshold),
        "bound": rule.bound,
        "comparison": comparison,
        "value": value,
    }


def _reason(rule: QualityRule, inputs: dict[str, Any]) -> str:
    what, unit = _METRIC_TEXT[rule.metric]
    rate = inputs["rate"]
    if inputs.get("test") == T.SEQUENTIAL:
        since = inputs["since"] or "the first"
        return (
            f"Quality rule #{rule.pk} {rule.name!r}: the sequential test of {what} at least "
            f"{rule.threshold} against at most {rule.threshold - rule.delta} (false-pause rate "
            f"{rule.alpha}) reached its boundary; {unit} since {since}: "
            f"{inputs['successes']}/{inputs['n']} = {rate:.3f}."
        )
    return (
        f"Quality rule #{rule.pk} {rule.name!r}: {what} over the last {inputs['n']} {unit} "
        f"{inputs['successes']}/{inputs['n']} = {rate:.3f}, Wilson 95% interval "
        f"[{inputs['lower']:.3f}, {inputs['upper']:.3f}]; the {_BOUND_TEXT[rule.bound]} is "
        f"{rule.comparison} {rule.threshold}."
    )


def rules_evaluate(
    *,
    labeler_id: int,
    project_id: int,
    now: datetime | None = None,
    before: datetime | None = None,
) -> list[RuleFiring]:
    """Evaluate every active rule of the project for the labeler, on the facts recorded before
    ``before`` (default: the start of ``now``'s day, ``start_of_day``); returns the firings
    made, each with ``as_of = before``. Evaluated twice with the same cut-off, it decides the
    same: the second run fires and clears nothing.

    Queries: the rules (1), the labeler's open or not-yet-cleared reversed firings of them (1),
    and one aggregate per metric in use covering every window at once (≤ 2) — whatever the
    number of rules. Then, only when something changes, one transaction: new firings in one
    ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (a racing evaluation's insert returns nothing,
    so the action is performed once), each returned firing's action (workforce services, the
    control-rate upsert), and the clearings. Safe to run twice and concurrently.
    """
    now = now or timezone.now()
    before = before or start_of_day(now)
    # Drift rules watch batches, not labelers (assignments.services.drift).
    rules = list(
        QualityRule.objects.filter(project_id=project_id, is_active=True).exclude(
            metric=M.LABEL_DRIFT
        )
    )
    if not rules:
        return []
    sequential = [rule for rule in rules if rule.test == T.SEQUENTIAL]
    rules = [rule for rule in rules if rule.test != T.SEQUENTIAL]
    pending = {
        f.rule_id: f
        for f in RuleFiring.objects.filter(
            Q(status=ST.OPEN) | Q(status=ST.REVERSED, cleared_at__isnull=True),
            labeler_id=labeler_id,
            rule_id__in=[r.pk for r in (*rules, *sequential)],
        ).order_by("fired_at", "id")  # the newest wins the dict
    }
    windows: dict[str, set[int]] = {}
    for rule in rules:
        windows.setdefault(rule.metric, set()).add(rule.window)
    counts = {
        metric: window_counts(
            metric=metric, labeler_id=labeler_id, project_id=project_id, windows=ws, before=before
        )
        for metric, ws in sorted(windows.items())
    }

    to_fire: list[tuple[QualityRule, dict[str, Any]]] = []
    to_clear: list[int] = []
    breach_over: list[int] = []
    to_lift: list[tuple[RuleFiring, QuizAttempt]] = []
    if sequential:
        to_fire, to_lift = _sequential_decisions(
            sequential,
            pending,
            labeler_id=labeler_id,
            project_id=project_id,
            now=now,
            before=before,
        )
    for rule in rules:
        n, successes = counts[rule.metric][rule.window]
        if n < rule.min_n:
            continue  # too little to say anything: no firing, no clearing
        inputs, breach = rule_inputs(rule, n, successes)
        firing = pending.get(rule.pk)
        if breach:
            if firing is None:
                to_fire.append((rule, inputs))
        elif firing is not None:
            if firing.status == ST.REVERSED:
                breach_over.append(firing.pk)
            elif firing.action in SELF_CLEARING:
                to_clear.append(firing.pk)
    if not (to_fire or to_clear or breach_over or to_lift):
        return []

    with transaction.atomic():
        fired = _insert_firings(labeler_id, project_id, to_fire, now, before)
        if fired:
            labeler = Labeler.objects.get(pk=labeler_id)
            by_rule = {rule.pk: (rule, inputs) for rule, inputs in to_fire}
            for firing_id, rule_id in fired:
                rule, inputs = by_rule[rule_id]
                _perform(firing_id, rule, labeler, inputs, now)
            # Read back (with their rule and labeler) inside the transaction, and announced.
            firings = list(
                RuleFiring.objects.filter(pk__in=[pk for pk, _ in fired])
                .select_related("rule", "labeler")
                .order_by("id")
            )
            for firing in firings:
                qc_signals.rule_fired.send(sender=RuleFiring, firing=firing)
        if to_clear:
            _clear(RuleFiring.objects.select_for_update().filter(pk__in=to_clear), now=now)
        if breach_over:
            RuleFiring.objects.filter(pk__in=breach_over, cleared_at__isnull=True).update(
                cleared_at=now
            )
        for firing, attempt in to_lift:
            _lift(firing, attempt, now=now)
    return firings if fired else []


def _sequential_decisions(
    rules: list[QualityRule],
    pending: dict[int, RuleFiring],
    *,
    labeler_id: int,
    project_id: int,
    now: datetime,
    before: datetime,
) -> tuple[list[tuple[QualityRule, dict[str, Any]]], list[tuple[RuleFiring, QuizAttempt]]]:
    """What the sequential rules decide for one labeler: the rules to fire (no open firing, and
    the test, replayed over the observations since its restart and before ``before``, reached
    its boundary) and the open automatic-lift pauses to lift (a passed attempt of the rule's
    lift quiz, started after the pause fired and finished before ``now``). Reads only: the
    restarts (1 query), the observations (1 per metric and restart), the attempts (≤ 1)."""
    open_firing = {
        rule.pk: pending[rule.pk]
        for rule in rules
        if rule.pk in pending and pending[rule.pk].status == ST.OPEN
    }
    to_fire: list[tuple[QualityRule, dict[str, Any]]] = []
    testing = [rule for rule in rules if rule.pk not in open_firing]
    if testing:
        restarts = dict(
            RuleFiring.objects.filter(
                labeler_id=labeler_id,
                rule_id__in=[rule.pk for rule in testing],
                status__in=[ST.REVERSED, ST.LIFTED],
            )
            .values("rule_id")
            .annotate(at=Max(Coalesce("reversed_at", "cleared_at")))
            .values_list("rule_id", "at")
        )
        seen: dict[tuple[str, datetime | None], list[tuple[datetime, bool]]] = {}
        for rule in testing:
            since = restarts.get(rule.pk)
            key = (rule.metric, since)
            if key not in seen:
                seen[key] = observations(
                    metric=rule.metric,
                    labeler_id=labeler_id,
                    project_id=project_id,
                    since=since,
                    before=before,
                )
            params = monitor_params(rule)
            flags = [ok for _, ok in seen[key]]
            # Observations before the rule existed set the score; only the state the rule
            # found and later crossings pause (qc.sequential.monitor).
            before_rule = bisect.bisect_left([at for at, _ in seen[key]], rule.created_at)
            result = monitor(params, flags, watch_from=before_rule)
            if result.paused_at is not None:
                inputs = sequential_inputs(rule, params, result, since, flags)
                to_fire.append((rule, inputs))
    to_lift: list[tuple[RuleFiring, QuizAttempt]] = []
    lifting = [
        (rule, open_firing[rule.pk])
        for rule in rules
        if rule.auto_lift and rule.lift_quiz_id and rule.pk in open_firing
    ]
    lifting = [(rule, f) for rule, f in lifting if f.action == A.PAUSE_ON_PROJECT]
    if lifting:
        attempts = list(
            QuizAttempt.objects.filter(
                labeler_id=labeler_id,
                quiz_id__in={rule.lift_quiz_id for rule, _ in lifting},
                status=QuizAttempt.Status.PASSED,
                finished_at__lt=now,
            ).order_by("finished_at", "id")
        )
        for rule, firing in lifting:
            passed = [
                a
                for a in attempts
                if a.quiz_id == rule.lift_quiz_id and a.started_at >= firing.fired_at
            ]
            if passed:
                to_lift.append((firing, passed[0]))
    return to_fire, to_lift


def monitor_params(rule: QualityRule) -> MonitorParams:
    """The sequential test of a rule (its boundary is computed once per parameter set)."""
    return MonitorParams(
        threshold=float(rule.threshold),
        delta=float(rule.delta),
        alpha=float(rule.alpha),
        beta=float(rule.beta),
    )


def observations(
    *,
    metric: str,
    labeler_id: int,
    project_id: int,
    since: datetime | None,
    before: datetime,
) -> list[tuple[datetime, bool]]:
    """The labeler's observations of the metric on the project, oldest first (time, then id),
    recorded at or after ``since`` (everything when None) and before ``before``: (time, counted
    gold checks' ``correct`` or outcomes' ``agrees_final``). One query."""
    src = _source(metric)
    model = GoldCheck if metric == M.GOLD_ACCURACY else LabelOutcome
    qs = model.objects.filter(
        labeler_id=labeler_id, project_id=project_id, **{f"{src.order}__lt": before}
    )
    if metric == M.GOLD_ACCURACY:
        qs = qs.filter(counted=True)
    if since is not None:
        qs = qs.filter(**{f"{src.order}__gte": since})
    rows = qs.order_by(src.order, "id").values_list(src.order, src.flag)
    return [(at, bool(ok)) for at, ok in rows]


def sequential_inputs(
    rule: QualityRule,
    params: MonitorParams,
    result: MonitorResult,
    since: datetime | None,
    seen: list[bool],
) -> dict[str, Any]:
    """A sequential firing's figures: the interval keys every firing has, over all the
    observations since the restart before the cut-off (``seen``: whole days, as the labeler's
    scorecard — the observation that reached the boundary, ``paused_at_n``, is for ops only,
    since a count within a day could point at a task), and the test's own."""
    below = QualityRule.Comparison.BELOW
    return {
        **_interval_inputs(rule, len(seen), sum(seen), below, None),
        "paused_at_n": result.paused_at,
        "test": T.SEQUENTIAL,
        "alpha": str(rule.alpha),
        "beta": str(rule.beta),
        "delta": str(rule.delta),
        "horizon": params.horizon,
        "score": result.score,
        "boundary": params.boundary,
        "since": since.isoformat() if since is not None else None,
    }


def _lift(firing: RuleFiring, attempt: QuizAttempt, *, now: datetime) -> bool:
    """Lift an open automatic-lift pause on the evidence of a passed lift quiz: guarded
    ``UPDATE … WHERE status = open`` to ``lifted``, ``cleared_at = now`` (the rule's test
    restarts there), the evidence under ``inputs["lift"]``. Returns whether this call lifted
    it (a racing sweep or an ops reversal may have been first)."""
    evidence = {
        "reason": "recovered",
        "quiz_id": attempt.quiz_id,
        "quiz_attempt_id": attempt.pk,
        "score": None if attempt.score is None else str(attempt.score),
        "finished_at": attempt.finished_at.isoformat(),
    }
    return bool(
        RuleFiring.objects.filter(pk=firing.pk, status=ST.OPEN).update(
            status=ST.LIFTED, cleared_at=now, inputs={**(firing.inputs or {}), "lift": evidence}
        )
    )


def _insert_firings(
    labeler_id: int,
    project_id: int,
    to_fire: list[tuple[QualityRule, dict[str, Any]]],
    now: datetime,
    as_of: datetime,
) -> list[tuple[int, int]]:
    """Insert the firings, skipping any (rule, labeler) that has an open one by now (the partial
    unique index); returns ``[(firing id, rule id)]`` of the rows this call inserted."""
    if not to_fire:
        return []
    opts = RuleFiring._meta
    f = opts.get_field
    q = connection.ops.quote_name
    columns = (
        "rule_id",
        "labeler_id",
        "project_id",
        "action",
        "status",
        "inputs",
        "fired_at",
        "as_of",
        "reverse_reason",
    )
    params: list[Any] = []
    for rule, inputs in to_fire:
        params += [
            rule.pk,
            labeler_id,
            project_id,
            rule.action,
            ST.OPEN,
            f("inputs").get_db_prep_save(inputs, connection),
            f("fired_at").get_db_prep_save(now, connection),
            f("as_of").get_db_prep_save(as_of, connection),
            "",
        ]
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    sql = (
        f"INSERT INTO {q(opts.db_table)} ({', '.join(q(c) for c in columns)}) "  # noqa: S608
        f"VALUES {', '.join([row] * len(to_fire))} "
        f"ON CONFLICT DO NOTHING RETURNING id, rule_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted((int(a), int(b)) for a, b in cursor.fetchall())


def _perform(
    firing_id: int, rule: QualityRule, labeler: Labeler, inputs: dict[str, Any], now: datetime
) -> None:
    """Carry out a new firing's action (inside the evaluation's transaction) and note in its
    inputs what was done or skipped."""
    reason = _reason(rule, inputs)
    notes: dict[str, Any] = {}
    if rule.action == A.REVOKE_QUALIFICATION:
        grant = (
            Qualification.objects.live()
            .filter(labeler_id=labeler.pk, qualification_type_id=rule.qualification_type_id)
            .first()
        )
        notes["qualification_type_id"] = rule.qualification_type_id
        if grant is None:
            notes["skipped"] = "The labeler held no live grant of the qualification."
        else:
            try:
                workforce_services.qualification_revoke(
                    actor=None, qualification=grant, reason=reason
                )
            except Conflict as exc:
                notes["skipped"] = exc.detail
            else:
                notes["revoked_qualification_id"] = grant.pk
    elif rule.action == A.SUSPEND:
        if labeler.status != Labeler.Status.ACTIVE:
            notes["skipped"] = f"The labeler was {labeler.status}, not active."
        else:
            try:
                workforce_services.labeler_suspend(actor=None, labeler=labeler, reason=reason)
            except Conflict as exc:
                notes["skipped"] = exc.detail
            else:
                notes["suspended"] = True
    elif rule.action == A.LOWER_CONTROL_RATE:
        current = (
            ControlRate.objects.select_for_update()
            .filter(project_id=rule.project_id, labeler_id=labeler.pk)
            .first()
        )
        notes["control_rate_previous"] = (
            None if current is None else {"rate": current.rate, "reason": current.reason}
        )
        tag = _control_rate_tag(rule.pk, firing_id)
        text = f"{tag} {rule.name}"[:REASON_MAX]
        if current is None:
            ControlRate.objects.create(
                project_id=rule.project_id,
                labeler_id=labeler.pk,
                rate=rule.control_rate,
                reason=text,
                updated_at=now,
            )
        else:
            ControlRate.objects.filter(pk=current.pk).update(
                rate=rule.control_rate, reason=text, updated_at=now
            )
        notes["control_rate"] = rule.control_rate
    # warn and pause_on_project: the firing is the action (the claim gate reads open pauses).
    if notes:
        RuleFiring.objects.filter(pk=firing_id).update(inputs={**inputs, **notes})


def _control_rate_tag(rule_id: int, firing_id: int) -> str:
    """The start of a rule-set ``ControlRate.reason``: the claim gate applies a labeler's own
    rate on a non-adaptive project only when the reason starts with ``rule:``."""
    return f"rule:{rule_id} firing:{firing_id}"


def _control_rate_restore(firing: RuleFiring, now: datetime) -> str:
    """Undo a lower-control-rate firing: if the labeler's ``ControlRate`` row is still the one
    this firing wrote, put back what was there before (delete the row when there was none);
    a row someone rewrote since is left alone. Returns what was done."""
    row = (
        ControlRate.objects.select_for_update()
        .filter(project_id=firing.project_id, labeler_id=firing.labeler_id)
        .first()
    )
    if row is None or not row.reason.startswith(_control_rate_tag(firing.rule_id, firing.pk)):
        return "left: the control rate was changed since"
    previous = (firing.inputs or {}).get("control_rate_previous")
    if previous is None:
        row.delete()
        return "removed"
    ControlRate.objects.filter(pk=row.pk).update(
        rate=previous["rate"], reason=previous["reason"], updated_at=now
    )
    return "restored"


def _clear(firings, *, now: datetime) -> int:
    """Mark open self-clearing firings cleared (guarded on ``status = open``) and put lowered
    control rates back. ``firings`` is a queryset that locks them."""
    cleared = 0
    for firing in firings:
        if firing.status != ST.OPEN or firing.action not in SELF_CLEARING:
            continue
        if firing.action == A.LOWER_CONTROL_RATE:
            outcome = _control_rate_restore(firing, now)
            RuleFiring.objects.filter(pk=firing.pk).update(
                inputs={**firing.inputs, "control_rate_on_clear": outcome}
            )
        cleared += RuleFiring.objects.filter(pk=firing.pk, status=ST.OPEN).update(
            status=ST.CLEARED, cleared_at=now
        )
    return cleared


def rules_sweep(*, since: datetime | None = None, now: datetime | None = None) -> int:
    """The periodic evaluation of quality rules (the beat job ``assignments.quality_rules_sweep``,
    hourly by default): ``rules_evaluate`` with the cut-off ``start_of_day(now)`` for every
    (labeler, project) on a project with active rules that has facts recorded between ``since``
    and the cut-off, or a firing still pending (open, or reversed and not yet recovered from).
    ``since`` is at the latest the start of the previous day (a missed run loses nothing of
    yesterday; older facts are still evaluated whenever the labeler has newer ones); a wider
    ``since`` takes more pairs.

    Idempotent: facts before the cut-off do not change within a day (except by ops's own acts:
    a quarantine, a correction, a rule changed), so the day's first run decides and the other
    runs of the day find nothing new to fire or clear. The pairs are chosen in one set-based
    query; each pair is then its own ``rules_evaluate``. Returns the firings made."""
    now = now or timezone.now()
    before = start_of_day(now)
    earliest = before - timedelta(days=1)
    since = min(since, earliest) if since is not None else earliest
    ruled = QualityRule.objects.filter(is_active=True).values("project_id")
    # Each part drops its model's default ordering: SQLite refuses ORDER BY inside a UNION.
    pairs = (
        GoldCheck.objects.filter(checked_at__gte=since, checked_at__lt=before, project_id__in=ruled)
        .order_by()
        .values_list("labeler_id", "project_id")
        .union(
            LabelOutcome.objects.filter(
                decided_at__gte=since, decided_at__lt=before, project_id__in=ruled
            )
            .order_by()
            .values_list("labeler_id", "project_id"),
            RuleFiring.objects.filter(
                Q(status=ST.OPEN) | Q(status=ST.REVERSED, cleared_at__isnull=True),
                project_id__in=ruled,
            )
            .order_by()
            .values_list("labeler_id", "project_id"),
        )
        .order_by("labeler_id", "project_id")
    )
    fired = 0
    for labeler_id, project_id in list(pairs):
        fired += len(
            rules_evaluate(labeler_id=labeler_id, project_id=project_id, now=now, before=before)
        )
    return fired


# -- reversing ----------------------------------------------------------------------------------


def rule_firing_reverse(
    *, actor: User | None, firing_id: int, reason: str, now: datetime | None = None
) -> RuleFiring:
    """Undo an open firing (ops only: the caller checks who may). Locks the firing; status
    ``reversed`` with who, when and why. What is undone:

    * ``pause_on_project`` — the pause is lifted (the claim gate reads open pauses only);
    * ``revoke_qualification`` — the grant revoked by the firing is given back as a new manual
      grant (``qualification_grant``, same score, expiring when the old one would have, rounded
      up to a whole day), unless the labeler requalified meanwhile or it would have expired;
    * ``suspend`` — ``labeler_reactivate``, if the firing suspended them and they still are;
    * ``lower_control_rate`` — the labeler's control rate is put back (``_control_rate_restore``);
    * ``warn`` — nothing to undo.

    What was done is noted under ``inputs["reversal"]``; the workforce services write their own
    history rows (status change, grant). An interval rule fires again for the labeler only
    after they have been back within it once; a sequential rule's test restarts from the
    reversal (``cleared_at`` is stamped with it). Raises ValidationError (blank reason),
    NotFound, Conflict (``already_reversed``; ``already_cleared`` when the firing has cleared
    by itself; ``already_lifted`` when an automatic-lift pause was lifted).
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["A reason is required."]})
    if len(reason) > MAX_REVERSE_REASON:
        raise ValidationError({"reason": [f"At most {MAX_REVERSE_REASON} characters."]})
    now = now or timezone.now()
    with transaction.atomic():
        firing = (
            RuleFiring.objects.select_for_update(of=("self",))
            .select_related("rule")
            .filter(pk=firing_id)
            .first()
        )
        if firing is None:
            raise NotFound()
        if firing.status == ST.REVERSED:
            raise Conflict("This rule firing was already reversed.", code="already_reversed")
        if firing.status == ST.CLEARED:
            raise Conflict(
                "This rule firing cleared by itself; there is nothing to reverse.",
                code="already_cleared",
            )
        if firing.status == ST.LIFTED:
            raise Conflict(
                "This pause was lifted when the labeler recovered; there is nothing to reverse.",
                code="already_lifted",
            )
        text = f"Reversal of rule firing #{firing.pk} ({firing.rule.name}): {reason}"
        notes = _undo(firing, actor=actor, text=text, now=now)
        firing.status = ST.REVERSED
        firing.reversed_at = now
        firing.reversed_by = actor
        firing.reverse_reason = reason
        firing.inputs = {**firing.inputs, "reversal": notes}
        fields = ["status", "reversed_at", "reversed_by", "reverse_reason", "inputs"]
        if firing.rule.test == T.SEQUENTIAL:
            # The sequential test restarts from the reversal: nothing left to recover from.
            firing.cleared_at = now
            fields.append("cleared_at")
        firing.save(update_fields=fields)
    return firing


def _undo(firing: RuleFiring, *, actor: User | None, text: str, now: datetime) -> dict[str, Any]:
    inputs = firing.inputs or {}
    if firing.action == A.PAUSE_ON_PROJECT:
        return {"done": "pause lifted"}
    if firing.action == A.LOWER_CONTROL_RATE:
        return {"done": f"control rate {_control_rate_restore(firing, now)}"}
    if firing.action == A.SUSPEND:
        labeler = Labeler.objects.get(pk=firing.labeler_id)
        if not inputs.get("suspended"):
            return {"done": "nothing: the firing did not suspend the labeler"}
        if labeler.status != Labeler.Status.SUSPENDED:
            return {"done": f"nothing: the labeler is {labeler.status} now"}
        workforce_services.labeler_reactivate(actor=actor, labeler=labeler, reason=text)
        return {"done": "reactivated"}
    if firing.action == A.REVOKE_QUALIFICATION:
        grant_id = inputs.get("revoked_qualification_id")
        if grant_id is None:
            return {"done": "nothing: the firing revoked no grant"}
        old = Qualification.objects.select_related("qualification_type", "labeler").get(pk=grant_id)
        live = (
            Qualification.objects.live()
            .filter(labeler_id=old.labeler_id, qualification_type_id=old.qualification_type_id)
            .exists()
        )
        if live:
            return {"done": "nothing: the labeler holds a live grant again"}
        valid_days = None
        if old.expires_at is not None:
            left = (old.expires_at - now).total_seconds()
            if left <= 0:
                return {"done": "nothing: the revoked grant would have expired by now"}
            valid_days = max(1, math.ceil(left / 86400))
        grant = workforce_services.qualification_grant(
            actor=actor,
            labeler=old.labeler,
            qualification_type=old.qualification_type,
            source=Qualification.Source.MANUAL,
            score=old.score,
            valid_days=valid_days,
            source_ref=f"rule-firing:{firing.pk}",
            reason=text,
            now=now,
        )
        return {"done": "granted again", "qualification_id": grant.pk}
    return {"done": "nothing to undo (a warning)"}
