import pytest
from pydantic import ValidationError

from infra.settings import DEV_JWT_SECRET, Mode, Settings


def test_development_mode_accepts_the_development_secrets() -> None:
    settings = Settings(mode=Mode.development)
    assert settings.jwt_secret.get_secret_value() == DEV_JWT_SECRET


def test_production_mode_refuses_default_secrets() -> None:
    with pytest.raises(ValidationError,
                       match="CLINIC_JWT_SECRET, CLINIC_PHI_KEK, CLINIC_AUDIT_SIGNING_KEY"):
        Settings(mode=Mode.production)


def test_production_mode_accepts_real_secrets() -> None:
    settings = Settings(
        mode=Mode.production,
        jwt_secret="x" * 40,
        phi_kek="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        audit_signing_key="AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
    )
    assert not settings.development


def test_key_encryption_key_must_be_32_bytes() -> None:
    with pytest.raises(ValidationError, match="32 bytes"):
        Settings(phi_kek="c2hvcnQ=")


def test_settings_come_from_clinic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("CLINIC_DATA_DIR", "/tmp/somewhere")
    settings = Settings()
    assert settings.kafka_bootstrap == "127.0.0.1:1"
    assert str(settings.data_dir) == "/tmp/somewhere"
