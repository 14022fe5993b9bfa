"""The [retention] settings: defaults, 0 for ever, the audit log's six months, the dedup floor."""

from __future__ import annotations

import pytest

from wxmember.core.config import ConfigError, build_config, load_config


def retention(**values: object) -> dict[str, dict[str, object]]:
    return {"retention": dict(values)}


class TestRetentionSettings:
    def test_defaults(self) -> None:
        kept = build_config({}).retention
        assert kept.reminder_deliveries_days == 180
        assert kept.campaign_deliveries_days == 365
        assert kept.audit_days == 365
        assert kept.import_problems_days == 90
        assert kept.wallet_card_events_days == 180
        assert kept.push_dedup_seconds == 60
        assert kept.batch_size == 1000

    @pytest.mark.parametrize("days", [0, 184, 3650])
    def test_the_audit_log_keeps_six_months_or_for_ever(self, days: int) -> None:
        assert build_config(retention(audit_days=days)).retention.audit_days == days

    @pytest.mark.parametrize("days", [1, 90, 183])
    def test_less_than_six_months_of_audit_log_is_refused(self, days: int) -> None:
        with pytest.raises(ConfigError, match=r"retention\.audit_days: must be 0 .* 184 days"):
            build_config(retention(audit_days=days))

    def test_the_environment_is_checked_too(self) -> None:
        with pytest.raises(ConfigError, match=r"retention\.audit_days"):
            load_config(None, environ={"WXMEMBER_RETENTION_AUDIT_DAYS": "30"})
        config = load_config(None, environ={"WXMEMBER_RETENTION_REMINDER_DELIVERIES_DAYS": "0"})
        assert config.retention.reminder_deliveries_days == 0

    @pytest.mark.parametrize("seconds", [0, 15, 29])
    def test_push_dedup_must_outlive_wechats_retries(self, seconds: int) -> None:
        with pytest.raises(
            ConfigError, match=r"retention\.push_dedup_seconds: must be at least 30"
        ):
            build_config(retention(push_dedup_seconds=seconds))

    @pytest.mark.parametrize("key", ["reminder_deliveries_days", "batch_size"])
    def test_negative_values_are_refused(self, key: str) -> None:
        with pytest.raises(ConfigError, match=rf"retention\.{key}"):
            build_config(retention(**{key: -1}))
