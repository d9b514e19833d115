"""The composition root: every long-lived object, built once from resolved settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import redis
from psycopg_pool import ConnectionPool

from commands.application import ClinicApplication
from commands.ports import Holds, OneTimeCodes, SlotCatalog
from commands.use_cases import Adapters, Policy, UseCases
from infra.auth.oidc import ClaimMapping, OidcVerifier, parse_role_map
from infra.auth.tokens import TokenService
from infra.crypto.derived_keys import DerivedKeys, derived_keys, email_index_key
from infra.crypto.join_links import JoinLinks, join_links
from infra.crypto.phi import PhiCipher
from infra.crypto.receipts import Ed25519Receipts
from infra.crypto.webhook_secrets import WebhookSecrets
from infra.eventstore.application import build_application
from infra.mail.dev_mailbox import DevMailbox
from infra.messaging import build_publisher, kafka_client_config
from infra.observability.metrics import PrometheusCommandMetrics
from infra.postgres.audit_records import PostgresAuditRecords
from infra.postgres.audit_trail import AuditTrail
from infra.postgres.data_keys import PostgresDataKeys
from infra.postgres.ingest_runs import PostgresIngestRuns
from infra.postgres.patient_records import PostgresCareTeam, PostgresPatientRecords
from infra.postgres.read_models import create_read_model_tables
from infra.postgres.slot_catalog import PostgresSlotCatalog
from infra.postgres.webhook_deliveries import PostgresWebhookDeliveries
from infra.redis.client import redis_client
from infra.redis.codes import RedisOneTimeCodes
from infra.redis.holds import RedisHolds
from infra.redis.idempotency import IdempotencyRecords
from infra.redis.rate_limiter import RateLimiter
from infra.redis.sessions import PatientSessions
from infra.settings import Settings
from infra.wiring.audit import audit_signer
from infra.wiring.notifier import dev_mailbox
from projections.ports import MessagePublisher


@dataclass
class Container:
    settings: Settings
    app: ClinicApplication
    pool: ConnectionPool
    redis: redis.Redis
    publisher: MessagePublisher
    tokens: TokenService
    codes: OneTimeCodes
    mailbox: DevMailbox | None  # development without SMTP: where the notifier's email goes
    holds: Holds
    limits: RateLimiter
    idempotency: IdempotencyRecords
    slots: SlotCatalog
    keys: DerivedKeys
    phi: PhiCipher
    audit: AuditTrail
    sessions: PatientSessions
    join_links: JoinLinks
    adapters: Adapters
    policy: Policy
    use_cases: UseCases

    @classmethod
    def build(cls, settings: Settings) -> Container:
        if not settings.database_url or not settings.redis_url:
            raise RuntimeError("database and Redis URLs must be resolved (infra/wiring/servers.py)")
        app = build_application(settings)  # first: a wrong key-encryption key stops here
        assert isinstance(app.data_keys, PhiCipher)
        create_read_model_tables(settings.database_url, settings.db_schema)
        pool = ConnectionPool(
            settings.database_url,
            min_size=1,
            max_size=10,
            open=True,
            # Autocommit: a single statement is its own transaction; otherwise each read pays
            # a BEGIN and a COMMIT round trip (a third of a booking's slot look-up).
            kwargs={"options": f"-c search_path={settings.db_schema}", "autocommit": True},
            name="read-models",
        )
        client = redis_client(settings)
        keys = derived_keys(settings)
        tokens = TokenService(settings.jwt_secret.get_secret_value(), settings.jwt_issuer,
                              oidc_verifier(settings))
        assert isinstance(app.data_keys.keys, PostgresDataKeys)
        mailbox, links = dev_mailbox(settings), join_links(settings)
        idempotency = IdempotencyRecords(client, keys.pseudonyms)
        sessions = PatientSessions(client, tokens, idle_seconds=settings.patient_idle_minutes * 60,
                                   absolute_seconds=int(settings.patient_session_hours * 3600))
        audit = AuditTrail(pool, settings.db_schema)
        adapters = Adapters(
            email_key=email_index_key(app.data_keys.keys, app.data_keys.keys.ring),
            offer_key=keys.waitlist_offers,
            slots=PostgresSlotCatalog(pool),
            holds=RedisHolds(client),
            idempotency=idempotency,
            codes=RedisOneTimeCodes(client, keys.code_pepper),
            sessions=sessions,
            care_team=PostgresCareTeam(pool),
            records=PostgresPatientRecords(pool, app.name),
            receipts=Ed25519Receipts(audit_signer(settings), settings.audit_trusted_keys),
            join_links=links,
            metrics=PrometheusCommandMetrics(),
            audit_records=PostgresAuditRecords(pool, settings.db_schema),
            access=audit,
            ingest_runs=PostgresIngestRuns(pool, settings.db_schema),
            mailbox=mailbox,
            secrets=WebhookSecrets(app.data_keys),
            webhook_deliveries=PostgresWebhookDeliveries(pool, settings.db_schema),
        )
        policy = Policy(hold_ttl_seconds=settings.hold_ttl_seconds,
                        max_holds_per_holder=settings.max_holds_per_client,
                        cancellation_cutoff=timedelta(hours=settings.cancellation_cutoff_hours),
                        max_upcoming_visits=settings.max_upcoming_visits,
                        retention_years=settings.retention_years,
                        unverified_registration_days=settings.unverified_registration_days,
                        no_show_rule=settings.no_show_rule(),
                        webhook_loopback=settings.development)
        return cls(
            settings=settings,
            app=app,
            pool=pool,
            redis=client,
            publisher=build_publisher(kafka_client_config(settings), settings.resolved_data_dir()),
            tokens=tokens,
            codes=adapters.codes,
            mailbox=mailbox,
            holds=adapters.holds,
            limits=RateLimiter(client, keys.pseudonyms),
            idempotency=idempotency,
            slots=adapters.slots,
            keys=keys,
            phi=app.data_keys,
            audit=audit,
            sessions=sessions,
            join_links=links,
            adapters=adapters,
            policy=policy,
            use_cases=UseCases.compose(app, adapters, policy),
        )

    def close(self) -> None:
        self.publisher.close()
        self.redis.close()
        self.pool.close()
        self.app.close()


def oidc_verifier(settings: Settings) -> OidcVerifier | None:
    """The staff identity provider's token verifier, if one is configured."""
    if settings.oidc_issuer is None:
        return None
    mapping = ClaimMapping(roles_claim=settings.oidc_roles_claim,
                           role_map=parse_role_map(settings.oidc_role_map) or None,
                           clinics_claim=settings.oidc_clinics_claim,
                           provider_claim=settings.oidc_provider_claim)
    return OidcVerifier(settings.oidc_issuer, settings.oidc_audience, mapping,
                        leeway_seconds=settings.oidc_leeway_seconds,
                        refresh_cooldown_seconds=settings.oidc_key_refresh_cooldown_seconds)
