"""Operations conditions as pure rules: given what one pass saw, which conditions hold.

Each condition names its effect and its fix in a line or two, and never a secret. A kind a
pass could not judge (Keepa never answered, the pass died before its end) is left as it was:
neither confirmed nor cleared.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# The database is "near" its limit from this share of it.
DATABASE_NEAR_SHARE = 0.8

KINDS: dict[str, str] = {
    "keepa_plan": "watch list outgrows the Keepa plan",
    "keepa_rejected": "Keepa rejects the key or account",
    "channel_refused": "a channel refuses the bot",
    "alerts_undelivered": "alerts undelivered",
    "run_deadline": "run deadline exceeded",
    "pass_resumed": "pass resumed again and again",
    "pass_gap": "no pass completed",
    "database_size": "database near its size limit",
    "stale_lock": "a vanished pass held the run lock",
    "database_unwritable": "the database refuses writes (told from Slack alone)",
}


# Slack's codes for a channel that will not take the bot's messages.
REFUSALS = ("not_in_channel", "channel_not_found")


@dataclass(frozen=True)
class LastAttempt:
    """The latest delivery attempt to a channel: delivered, or the error Slack gave."""

    channel: str
    delivered: bool
    error: str | None
    client: str | None  # None: the default channel (or the operations channel)


@dataclass(frozen=True)
class Limits:
    """The settings the rules compare against."""

    schedule_minutes: float
    undelivered_minutes: float
    max_resumes: int
    database_size_limit_mb: float | None


@dataclass(frozen=True)
class PassFacts:
    """What one pass saw. `finished`: the pass reached its end (no crash or rejection)."""

    now: datetime
    finished: bool
    keepa_answered: bool
    keepa_rejected_status: int | None = None
    unchecked_for_tokens: int = 0
    # A scheduled run: what the plan cannot watch within CHECK_CEILING_HOURS (its forecast,
    # schedule.Forecast.too_small), and the ASINs that waited past it this run.
    plan_too_small: str | None = None
    past_ceiling: int = 0
    watched: int = 0
    refill_per_minute: int | None = None
    deadline_hit: bool = False
    unchecked: int = 0
    run_deadline_minutes: float = 0.0
    resumes: int = 0
    previous_completed_at: datetime | None = None
    undelivered: int = 0
    oldest_undelivered_at: datetime | None = None
    last_attempts: list[LastAttempt] = field(default_factory=list)  # one per channel
    database_bytes: int | None = None
    stale_lock_ended: str | None = None  # the session of a vanished pass this one ended


@dataclass(frozen=True)
class Condition:
    kind: str
    headline: str
    effect: str
    fix: str
    subject: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.subject


@dataclass(frozen=True)
class Verdict:
    holding: list[Condition]
    judged: set[str]  # kinds this pass could judge; open ones of these not holding clear


def judge(facts: PassFacts, limits: Limits) -> Verdict:
    """Every condition that holds after this pass, and which kinds the pass could judge."""
    holding: list[Condition] = []
    judged = {"channel_refused", "alerts_undelivered", "pass_resumed", "pass_gap", "stale_lock"}
    if facts.stale_lock_ended:
        holding.append(stale_lock(facts.stale_lock_ended, facts.run_deadline_minutes))
    if facts.keepa_answered:
        judged.add("keepa_rejected")
        if facts.keepa_rejected_status is not None:
            holding.append(keepa_rejected(facts.keepa_rejected_status))
    if facts.finished:
        judged |= {"keepa_plan", "run_deadline"}
        if facts.unchecked_for_tokens or facts.plan_too_small or facts.past_ceiling:
            holding.append(keepa_plan(facts))
        if facts.deadline_hit:
            holding.append(run_deadline(facts))
    for attempt in facts.last_attempts:
        code = next((code for code in REFUSALS if code in (attempt.error or "")), None)
        if code and not attempt.delivered:
            holding.append(channel_refused(attempt, code))
    if facts.undelivered:
        holding.append(alerts_undelivered(facts, limits))
    if facts.resumes > limits.max_resumes:
        holding.append(pass_resumed(facts, limits))
    gap = limits.schedule_minutes * 2
    last = facts.previous_completed_at
    if last is not None and facts.now - last > timedelta(minutes=gap):
        holding.append(pass_gap(last, facts.now, limits))
    if limits.database_size_limit_mb and facts.database_bytes is not None:
        judged.add("database_size")
        used_mb = facts.database_bytes / 1024 / 1024
        if used_mb >= limits.database_size_limit_mb * DATABASE_NEAR_SHARE:
            holding.append(database_size(used_mb, limits.database_size_limit_mb))
    return Verdict(holding=holding, judged=judged)


def keepa_rejected(status: int) -> Condition:
    what, fix = (
        ("the account (HTTP 402 PAYMENT_REQUIRED)", "renew or upgrade the Keepa subscription")
        if status == 402
        else ("the API key (HTTP 400 REQUEST_REJECTED)", "set a valid KEEPA_API_KEY")
    )
    return Condition(
        kind="keepa_rejected",
        headline=f"Keepa rejects {what}",
        effect="no ASIN is checked, so no badge change is detected",
        fix=f"{fix}, then run `bestseller doctor`",
    )


def keepa_plan(facts: PassFacts) -> Condition:
    if facts.plan_too_small or facts.past_ceiling:
        waited = f"{facts.past_ceiling:,} ASINs waited past CHECK_CEILING_HOURS this pass"
        return Condition(
            kind="keepa_plan",
            headline="The watch list outgrows the Keepa plan",
            effect="; ".join(
                part
                for part in (facts.plan_too_small, waited if facts.past_ceiling else None)
                if part
            ),
            fix=(
                "upgrade the Keepa plan, remove ASINs (`bestseller asins remove`), or raise"
                " CHECK_CEILING_HOURS"
            ),
        )
    per_hour = (
        f"about {facts.refill_per_minute * 60:,} ASINs per hour"
        if facts.refill_per_minute is not None
        else "an unknown number of ASINs per hour"
    )
    return Condition(
        kind="keepa_plan",
        headline="The watch list outgrows the Keepa plan",
        effect=(
            f"{facts.unchecked_for_tokens:,} ASINs left unchecked (Keepa out of tokens);"
            f" the plan covers {per_hour}, {facts.watched:,} are watched"
        ),
        fix="upgrade the Keepa plan, or remove ASINs (`bestseller asins remove`)",
    )


def channel_refused(attempt: LastAttempt, code: str) -> Condition:
    whose = f"client {attempt.client}'s channel" if attempt.client else "the channel"
    return Condition(
        kind="channel_refused",
        subject=attempt.channel,
        headline=f"Slack refuses the bot in {whose} {attempt.channel} ({code})",
        effect="alerts for that channel are not delivered",
        fix=(
            f"invite the bot: `/invite @bot` in {attempt.channel}"
            if code == "not_in_channel"
            else f"check the channel id {attempt.channel} (`bestseller clients rule`)"
        ),
    )


def alerts_undelivered(facts: PassFacts, limits: Limits) -> Condition:
    since = f" since {utc(facts.oldest_undelivered_at)}" if facts.oldest_undelivered_at else ""
    return Condition(
        kind="alerts_undelivered",
        headline=(
            f"{facts.undelivered:,} alerts undelivered for over"
            f" {limits.undelivered_minutes:g} min{since}"
        ),
        effect="sellers are not hearing about badge changes; each run retries them",
        fix=(
            "`bestseller alerts list --undelivered` says why; fix that (`bestseller doctor`),"
            " then `bestseller alerts retry`"
        ),
    )


def run_deadline(facts: PassFacts) -> Condition:
    return Condition(
        kind="run_deadline",
        headline=f"The pass hit its deadline ({facts.run_deadline_minutes:g} min)",
        effect=f"{facts.unchecked:,} ASINs were not checked in time; the next run resumes them",
        fix="raise RUN_DEADLINE_MINUTES or BATCH_SIZE, or watch fewer ASINs",
    )


def pass_resumed(facts: PassFacts, limits: Limits) -> Condition:
    return Condition(
        kind="pass_resumed",
        headline=f"One pass was resumed {facts.resumes} times (more than {limits.max_resumes})",
        effect="runs keep dying or stopping before the end: badges are checked late",
        fix="read the errors in `bestseller report` and the job's log",
    )


def pass_gap(last: datetime, now: datetime, limits: Limits) -> Condition:
    return Condition(
        kind="pass_gap",
        headline=f"No pass completed between {utc(last)} and {utc(now)}",
        effect=f"badges went unwatched (passes are due every {limits.schedule_minutes:g} min)",
        fix="check the cron schedule (SCHEDULE_MINUTES) and the job's log",
    )


def database_size(used_mb: float, limit_mb: float) -> Condition:
    return Condition(
        kind="database_size",
        headline=(
            f"The database is at {used_mb:,.0f} MB of its {limit_mb:,.0f} MB limit"
            f" ({used_mb / limit_mb:.0%})"
        ),
        effect="at the limit writes fail and no pass can record changes",
        fix=(
            "run `bestseller prune` (or lower HISTORY_RETENTION_DAYS), or raise the database"
            " plan and DATABASE_SIZE_LIMIT_MB"
        ),
    )


def stale_lock(session: str, deadline_minutes: float) -> Condition:
    return Condition(
        kind="stale_lock",
        headline=f"A pass that vanished or hung held the run lock: {session}",
        effect=(
            "no pass could run while it did; this pass ended that session, past its"
            f" {deadline_minutes:g} min run deadline, and went on"
        ),
        fix=(
            "nothing now; if it recurs, read the job's log for runs killed mid-pass or a"
            " database that stopped answering"
        ),
    )


def database_unwritable(what: str) -> Condition:
    """The database refuses writes (read-only, disk full): no pass can record anything, so
    this one is told from Slack alone (alerts/operations.py)."""
    return Condition(
        kind="database_unwritable",
        headline=f"The database refuses writes: {what}",
        effect="no pass can record checks, changes or alerts: badge changes go unannounced",
        fix=(
            "run `bestseller prune` (it may write to a read-only database) or raise the"
            " database plan, then `bestseller doctor`"
        ),
    )


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
