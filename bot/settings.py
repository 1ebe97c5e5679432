"""The bot's configuration: the diagnostics sections plus Slack, access, escalation, intake."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from diagnostics.settings import DiagnosticsSettings, Section


class SlackSettings(Section):
    mode: Literal["socket", "http"] = "socket"  # Socket Mode needs no inbound port
    api_base_url: str = "https://slack.com/api/"
    bot_token_env: str = "SLACK_BOT_TOKEN"  # xoxb-...
    bot_token_file: Path | None = None
    app_token_env: str = "SLACK_APP_TOKEN"  # xapp-... (Socket Mode)
    app_token_file: Path | None = None
    signing_secret_env: str = "SLACK_SIGNING_SECRET"  # HTTP mode
    signing_secret_file: Path | None = None
    http_host: str = "0.0.0.0"
    http_port: int = Field(default=3000, ge=1, le=65535)
    command: str = "/migrate-diag"
    default_channel: str | None = (
        None  # automatic posts go here unless routed elsewhere
    )
    update_interval_s: float = Field(
        default=1.2, ge=0
    )  # chat.update pacing per message
    max_concurrent_diagnoses: int = Field(default=4, ge=1)
    # of those, kept for people (slash, buttons, mentions): a storm's automatic
    # diagnoses never hold them, so an operator never waits behind a storm
    reserved_interactive_diagnoses: int = Field(default=1, ge=0)
    # chat.postMessage pacing per channel: Slack allows about 1/s; bursts are not promised
    post_rate_per_s: float = Field(default=1.0, gt=0)
    post_burst: int = Field(default=1, ge=1)
    # every Web API call: retries of 429 (after Retry-After), 5xx and connection errors
    retries: int = Field(default=3, ge=0, le=10)
    retry_backoff_s: float = Field(default=0.5, ge=0, le=30)  # 5xx: 0.5, 1, 2 s ...
    # a running diagnosis renews its case's lease every third of this; a case whose lease
    # ran out (its process died) is re-run by the next process that looks (at start too)
    case_lease_s: float = Field(default=30.0, gt=0)
    # Socket Mode: ping period; a lost connection is noticed and re-opened within it
    socket_ping_interval_s: float = Field(default=10.0, gt=0)


class AccessSettings(Section):
    """Authorization on Slack IDs, never display names. Empty lists allow everyone."""

    allowed_channels: tuple[str, ...] = ()
    diagnose_users: tuple[str, ...] = ()
    diagnose_groups: tuple[str, ...] = ()
    rerun_users: tuple[str, ...] = ()
    rerun_groups: tuple[str, ...] = ()
    escalate_users: tuple[str, ...] = ()
    escalate_groups: tuple[str, ...] = ()
    # Resolve / Reopen (button, modal, `@migrate-diag resolve`); empty: the re-run rule
    resolve_users: tuple[str, ...] = ()
    resolve_groups: tuple[str, ...] = ()
    # fixes that change the cloud (Retry to H): both empty = NOBODY (never open by default)
    fix_users: tuple[str, ...] = ()
    fix_groups: tuple[str, ...] = ()


class EscalationSettings(Section):
    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"
    routing_key_env: str = "PAGERDUTY_ROUTING_KEY"
    routing_key_file: Path | None = None
    oncall_group: str | None = (
        None  # Slack user group id (S...) to mention on escalation
    )
    # PagerDuty's rule: 429 and 5xx are retried with backoff (1, 2, 4 s ...), bounded
    attempts: int = Field(default=4, ge=1, le=10)
    retry_backoff_s: float = Field(default=1.0, ge=0, le=60)


class StoreSettings(Section):
    url: str = "sqlite+aiosqlite:///migrate-diag.sqlite"  # postgresql+asyncpg://... for replicas


class NotificationSource(Section):
    enabled: bool = False
    url_env: str = "MIGRATE_DIAG_AMQP_URL"  # amqp://user:pass@host:5672/vhost
    exchange: str = "nova"
    queue: str = "migrate-diag.versioned_notifications"
    routing_keys: tuple[str, ...] = (
        "versioned_notifications.error",
        "versioned_notifications.info",
    )
    prefetch: int = Field(default=20, ge=1)
    # Declared on every connection exactly as Nova's oslo.messaging declares it (type topic,
    # durable = [oslo_messaging_rabbit] amqp_durable_queues or rabbit_quorum_queue, auto_delete
    # = amqp_auto_delete), so the bot can bind at once after a broker restart and the two
    # declarations never conflict. Set exchange_durable: true only together with Nova.
    exchange_durable: bool = False
    exchange_auto_delete: bool = False
    # reconnect: first retry at once, then the interval grows with the outage up to the max
    reconnect_min_s: float = Field(default=0.1, gt=0)
    reconnect_max_s: float = Field(default=5.0, gt=0)


class PollerSource(Section):
    # None: on when notifications are on (the backstop for whatever the bus dropped,
    # at backstop_interval_s), off otherwise. true/false force it.
    enabled: bool | None = None
    interval_s: float = Field(default=60.0, gt=0)
    backstop_interval_s: float = Field(default=300.0, gt=0)
    overlap_s: int = Field(default=300, ge=0)
    page_size: int = Field(default=200, ge=1)


class WebhookSource(Section):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8088, ge=1, le=65535)
    secret_env: str = "MIGRATE_DIAG_WEBHOOK_SECRET"  # HMAC body signature
    secret_file: Path | None = None
    token_env: str = (
        "MIGRATE_DIAG_WEBHOOK_TOKEN"  # Authorization: Bearer (Alertmanager)
    )
    token_file: Path | None = None
    # an alert's startsAt may be this much later than the failure it reports (its rule's
    # for:, scrape and evaluation intervals); it joins a VM's case that far back
    alert_lag_s: float = Field(default=3600.0, ge=0)


class StormSettings(Section):
    window_s: int = Field(default=300, ge=1)
    threshold: int = Field(
        default=3, ge=2
    )  # failures sharing a key in the window -> incident
    max_concurrent: int = Field(default=4, ge=1)
    # hold new cases this long so a burst is seen as one storm (Alertmanager group_wait)
    group_wait_s: float = Field(default=10.0, ge=0)


class Route(Section):
    """Send automatic posts for matching failures to a channel (first match wins)."""

    channel: str
    availability_zone: str | None = None
    aggregate: str | None = None
    host_pattern: str | None = None  # fnmatch on source or destination host


class IntakeSettings(Section):
    notifications: NotificationSource = NotificationSource()
    poller: PollerSource = PollerSource()
    webhook: WebhookSource = WebhookSource()
    storms: StormSettings = StormSettings()
    routes: tuple[Route, ...] = ()
    # a report without a migration id joins a recent case of its instance in this window
    correlation_window_s: float = Field(default=900.0, gt=0)
    # A replica leases only the cases it will run now, for lease_s, renewed every
    # heartbeat_s while it works them; a dead replica's cases are taken over after lease_s.
    lease_s: float = Field(default=30.0, gt=0)
    heartbeat_s: float = Field(default=10.0, gt=0)
    # a post that failed for a passing reason is retried after retry_base_s, doubling up
    # to retry_max_s, at most max_attempts times; then the case fails with the reason
    max_attempts: int = Field(default=5, ge=1)
    retry_base_s: float = Field(default=5.0, gt=0)
    retry_max_s: float = Field(default=300.0, gt=0)

    @model_validator(mode="after")
    def _heartbeat_inside_lease(self) -> IntakeSettings:
        if self.heartbeat_s >= self.lease_s:
            raise ValueError("intake.heartbeat_s must be shorter than intake.lease_s")
        return self


class HealthSettings(Section):
    """The operator's port, in Socket Mode too: /healthz (alive), /readyz (ready), /metrics.

    Container HEALTHCHECK, Kubernetes probes and the ServiceMonitor point here (deploy/).
    """

    enabled: bool = True
    host: str = "0.0.0.0"  # probes come from the kubelet / Docker, not from loopback
    port: int = Field(default=8081, ge=0, le=65535)  # 0: any free port (tests)


class LoggingSettings(Section):
    """``serve``'s log: one line per event; ``json`` for a log pipeline."""

    format: Literal["text", "json"] = "text"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class WatchSettings(Section):
    """How the bot follows a move it started (``bot.actions.watch``); always bounded."""

    # the first look at the migration, then each wait grows 1.5x up to max_poll_s
    first_poll_s: float = Field(default=2.0, gt=0, le=60)
    max_poll_s: float = Field(default=30.0, gt=0, le=600)
    # Nova records the migration just after its 202; none by then: say so and stop
    find_within_s: float = Field(default=120.0, gt=0)
    # the whole watch; a move still running then is left to the poller/notifications
    give_up_after_s: float = Field(default=3600.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> WatchSettings:
        if self.first_poll_s > self.max_poll_s:
            raise ValueError("first_poll_s must not exceed max_poll_s")
        return self


class ActionsSettings(Section):
    """Fixes the bot may run from a thread (Retry to H). Off unless the site turns them on."""

    enabled: bool = False
    # the clouds.yaml entry (openstack.clouds_file) with the rights to move servers;
    # diagnosis keeps its own read-only openstack.cloud
    cloud: str | None = None
    watch: WatchSettings = WatchSettings()


class BotSettings(DiagnosticsSettings):
    slack: SlackSettings = SlackSettings()
    access: AccessSettings = AccessSettings()
    escalation: EscalationSettings = EscalationSettings()
    store: StoreSettings = StoreSettings()
    intake: IntakeSettings = IntakeSettings()
    health: HealthSettings = HealthSettings()
    logging: LoggingSettings = LoggingSettings()
    actions: ActionsSettings = ActionsSettings()
