"""Configuration: one TOML file, overridden by environment variables, validated once.

`load_config()` reads `config.toml` (or the given path, or built-in defaults), applies
`WXMEMBER_<SECTION>_<KEY>` environment variables on top and validates the result into a frozen
`Config`. Anything wrong raises `ConfigError` whose message is one line naming the key, which the
CLI prints instead of a traceback. Secrets are `SecretStr`, so they never show in a repr or log.

This is the only module that reads `os.environ`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

ENV_PREFIX = "WXMEMBER_"
DEFAULT_CONFIG_PATH = Path("config.toml")


class ConfigError(Exception):
    """A setting is missing or wrong; the message is one line that names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    # HTTP limits of each process (wxmember.core.httplimits; the proxy's are in README.md)
    header_timeout_seconds: float = Field(75.0, gt=0, le=3600)
    body_timeout_seconds: float = Field(30.0, gt=0, le=3600)
    max_request_line_bytes: int = Field(8190, ge=1024, le=65536)
    max_header_bytes: int = Field(8190, ge=1024, le=65536)
    max_headers: int = Field(100, ge=16, le=1000)
    max_concurrent_requests: int = Field(1000, ge=1, le=100_000)
    backlog: int = Field(128, ge=1, le=65535)
    max_body_bytes: int = Field(1_048_576, ge=1024)
    access_log: bool = False
    # Worker processes that draw card faces off the event loop (0: a thread instead).
    render_processes: int = Field(1, ge=0, le=64)
    # Peers whose X-Forwarded-For / X-Real-IP name the client (wxmember.core.clientaddr).
    trusted_proxies: tuple[IPvAnyNetwork, ...] = ()


class DatabaseConfig(_Section):
    url: str = "sqlite://wxmember.db"
    pool_max: int = Field(20, ge=1, le=500)
    # SQLite: how long a statement waits for another process's lock before "database is locked"
    busy_timeout_seconds: float = Field(10.0, ge=0, le=600)
    # PostgreSQL: how long opening a connection may take before the request is 503
    connect_timeout_seconds: float = Field(5.0, gt=0, le=60)
    # A read replica for the reports (the dashboard, reminder statistics); empty: the primary
    read_url: str = ""

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgres://", "postgresql://", "asyncpg://")):
            raise ValueError("must start with sqlite:// or postgres://")
        return value

    @field_validator("read_url")
    @classmethod
    def _replica_scheme(cls, value: str) -> str:
        return cls._known_scheme(value) if value else value

    @model_validator(mode="after")
    def _replica_of_the_same_kind(self) -> DatabaseConfig:
        if self.read_url and self.read_url.startswith("sqlite://") != self.is_sqlite:
            raise ValueError("read_url must be a database of the same kind as url")
        return self

    def replica(self) -> DatabaseConfig | None:
        """The replica's settings (the primary's, at read_url), or None without one."""
        return self.model_copy(update={"url": self.read_url}) if self.read_url else None

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite://")


class RedisConfig(_Section):
    url: str = ""
    max_connections: int = Field(100, ge=1, le=10_000)
    # A Redis Cluster: `url` names one of its nodes, the others are learnt from it.
    cluster: bool = False

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be empty (in-process stand-in) or start with redis://")
        return value

    @model_validator(mode="after")
    def _cluster_by_address(self) -> RedisConfig:
        if not self.cluster:
            return self
        if not self.url.startswith(("redis://", "rediss://")):
            raise ValueError("cluster = true needs a url redis://host:port naming one node")
        if urlsplit(self.url).path.strip("/") not in ("", "0"):
            raise ValueError("a Redis Cluster has only database 0: end the url with /0 or nothing")
        return self


class BrandConfig(_Section):
    name: str = "WX Member"
    timezone: str = "Asia/Shanghai"
    primary_color: str = "#1F2937"
    accent_color: str = "#D4A017"
    font_path: str = ""
    # what the card face's QR code encodes; filled in, it fits the till's 64 characters
    card_qr: str = Field("WXMCARD:{card_no}", min_length=9, max_length=57)

    @field_validator("card_qr")
    @classmethod
    def _card_qr_template(cls, value: str) -> str:
        rest = value.replace("{card_no}", "", 1)
        if "{card_no}" not in value or "{" in rest or "}" in rest:
            raise ValueError("must hold {card_no} once and no other braces")
        return value

    @field_validator("timezone")
    @classmethod
    def _real_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("primary_color", "accent_color")
    @classmethod
    def _hex_colour(cls, value: str) -> str:
        if len(value) != 7 or value[0] != "#":
            raise ValueError("must be a colour like #1F2937")
        try:
            int(value[1:], 16)
        except ValueError:
            raise ValueError("must be a colour like #1F2937") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class MiniappConfig(_Section):
    appid: str = ""
    secret: SecretStr = SecretStr("")
    token: SecretStr = SecretStr("")
    encoding_aes_key: SecretStr = SecretStr("")
    # the mini-program's original id (gh_...) and page the member card's centre button opens
    original_id: str = Field("", pattern=r"^(gh_[0-9a-zA-Z]{1,32})?$")
    card_page: str = Field("pages/card/index", min_length=1, max_length=128)


class OfficialConfig(_Section):
    appid: str = ""
    secret: SecretStr = SecretStr("")
    token: SecretStr = SecretStr("")
    encoding_aes_key: SecretStr = SecretStr("")
    mode: Literal["plain", "compatible", "safe"] = "safe"
    timestamp_window_seconds: int = Field(300, ge=10)
    reply_deadline_seconds: float = Field(4.5, gt=0, le=4.9)

    @field_validator("encoding_aes_key")
    @classmethod
    def _aes_key_shape(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if raw and (len(raw) != 43 or not raw.isalnum()):
            raise ValueError("must be the 43-character EncodingAESKey from the WeChat console")
        return value


BotAction = Literal["checkin", "points", "coupons", "card", "tier", "help"]

_BOT_HELP = (
    "您好，我是会员小助手～回复关键词即可：\n"
    "签到：每日签到领积分\n"
    "积分：查看积分和即将到期的积分\n"
    "优惠券：查看可用的优惠券\n"
    "会员卡：获取会员卡图片\n"
    "等级：查看会员等级和升级进度\n"
    "帮助：再看一次这份菜单"
)
_BOT_WELCOME = "感谢关注{brand}！回复「签到」每天领积分，回复「帮助」查看全部功能。"


class BotConfig(_Section):
    """The Official Account chat assistant: keywords, texts and the mini-program binding page."""

    keywords: dict[str, BotAction] = {}
    help_text: str = Field(_BOT_HELP, min_length=1, max_length=600)
    welcome_text: str = Field(_BOT_WELCOME, min_length=1, max_length=600)
    miniapp_binding_path: str = Field("pages/member/bind", min_length=1, max_length=128)
    max_body_bytes: int = Field(65536, ge=1024, le=1_048_576)

    @field_validator("keywords", mode="before")
    @classmethod
    def _keywords_table(cls, value: Any) -> Any:
        if isinstance(value, str):  # from an environment variable: a JSON object
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError('must be a JSON object like {"qd": "checkin"}') from None
        if isinstance(value, dict) and any(not str(k).strip() or len(k) > 32 for k in value):
            raise ValueError("keywords must be 1..32 characters")
        return value

    @field_validator("miniapp_binding_path")
    @classmethod
    def _page_path(cls, value: str) -> str:
        if value.startswith("/") or "?" in value:
            raise ValueError("must be a page path like pages/member/bind (no leading /, no query)")
        return value


class WeChatConfig(_Section):
    api_base: str = "https://api.weixin.qq.com"
    timeout_seconds: float = Field(5.0, gt=0)
    network_retries: int = Field(2, ge=0, le=5)

    @field_validator("api_base")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")


class SecurityConfig(_Section):
    secret_key: SecretStr = SecretStr("")
    data_key: SecretStr = SecretStr("")
    old_data_keys: tuple[SecretStr, ...] = ()
    hash_key: SecretStr = SecretStr("")
    session_ttl_seconds: int = Field(7 * 24 * 3600, ge=60)
    operator_ttl_seconds: int = Field(12 * 3600, ge=60)
    # staff: failed logins per username and client address
    login_attempts_per_minute: int = Field(10, ge=1)
    # staff: failed logins per client address, whatever the username (credential stuffing)
    staff_login_failures_per_address_per_minute: int = Field(50, ge=1)
    # members: logins per client address (generous: a shop's Wi-Fi puts many behind one address)
    member_logins_per_address_per_minute: int = Field(100, ge=1)
    # members: logins of everyone together, below WeChat's code2session quota
    member_logins_per_minute: int = Field(3000, ge=1)

    @field_validator("data_key", "old_data_keys")
    @classmethod
    def _aes_keys(cls, value: Any) -> Any:
        keys = value if isinstance(value, tuple) else (value,)
        for key in keys:
            raw = key.get_secret_value()
            if raw and len(_decode_key(raw)) != 32:
                raise ValueError("must be 32 bytes, base64-encoded (wxmember keygen)")
        return value


class PointsConfig(_Section):
    expiry_policy: Literal["rolling", "year_end", "never"] = "rolling"
    rolling_months: int = Field(12, ge=1, le=120)
    points_per_yuan: int = Field(1, ge=0, le=1000)
    growth_per_yuan: int = Field(1, ge=0, le=1000)
    refund_shortfall: Literal["debt", "refuse"] = "debt"
    welcome_points: int = Field(0, ge=0)
    # Batches of the expiry job run side by side on PostgreSQL (one connection each).
    expiry_batches_at_once: int = Field(2, ge=1, le=16)


class TiersConfig(_Section):
    period: Literal["calendar_year", "rolling_12_months"] = "calendar_year"
    max_downgrade_levels: int = Field(1, ge=0, le=20)
    checkin_growth: int = Field(0, ge=0, le=1000)


class RfmConfig(_Section):
    # Frequency and monetary value count purchases of the last `window_days` local days.
    window_days: int = Field(365, ge=1, le=3660)
    # "new": a member whose first purchase lies within the last `new_days` local days.
    new_days: int = Field(30, ge=0, le=3660)
    # A score of `high_score` or more is "high" in the segment rule (scores run 1..5).
    high_score: int = Field(3, ge=2, le=5)
    batch_size: int = Field(1000, ge=1, le=10000)


class SchedulerConfig(_Section):
    enabled: bool = True
    lease_seconds: float = Field(30.0, ge=0.3, le=3600)
    shutdown_grace_seconds: float = Field(10.0, ge=0, le=600)


class RemindersConfig(_Section):
    sends_per_second: int = Field(20, ge=1, le=1000)
    max_attempts: int = Field(5, ge=1, le=20)
    retry_base_seconds: float = Field(60.0, ge=0, le=3600)
    sending_timeout_seconds: float = Field(120.0, ge=1, le=86400)
    batch_size: int = Field(500, ge=1, le=10000)


class WalletSyncConfig(_Section):
    """Keeping members' cards in the WeChat wallet in step (handlers/wallet_card/wallet_sync)."""

    interval_seconds: float = Field(2.0, ge=0.5, le=3600)
    batch_size: int = Field(100, ge=1, le=1000)
    concurrency: int = Field(8, ge=1, le=64)
    retry_base_seconds: float = Field(10.0, ge=0, le=3600)
    retry_max_seconds: float = Field(600.0, ge=1, le=86400)


class CouponsConfig(_Section):
    redis_precheck: bool = True
    soldout_flag_seconds: int = Field(300, ge=1, le=86400)


# China's Cybersecurity Law (Art. 21) has network operators keep logs for at least six months;
# the longest six months in a row (July to December) have 184 days.
AUDIT_MIN_DAYS = 184
# WeChat re-sends an unanswered push three times, 5 s apart: about 15 s from the first try.
PUSH_RETRY_SECONDS = 15


class RetentionConfig(_Section):
    """How long housekeeping records live, in days; 0 keeps them for ever (handlers/retention)."""

    reminder_deliveries_days: int = Field(180, ge=0, le=36500)
    campaign_deliveries_days: int = Field(365, ge=0, le=36500)
    audit_days: int = Field(365, ge=0, le=36500)
    import_problems_days: int = Field(90, ge=0, le=36500)
    wallet_card_events_days: int = Field(180, ge=0, le=36500)
    push_dedup_seconds: int = Field(60, le=86400)
    batch_size: int = Field(1000, ge=1, le=10000)

    @field_validator("audit_days")
    @classmethod
    def _six_months(cls, value: int) -> int:
        if 0 < value < AUDIT_MIN_DAYS:
            raise ValueError(
                f"must be 0 (keep for ever) or at least {AUDIT_MIN_DAYS} days: the Cybersecurity"
                " Law has logs kept for six months or more"
            )
        return value

    @field_validator("push_dedup_seconds")
    @classmethod
    def _outlives_retries(cls, value: int) -> int:
        if value < 2 * PUSH_RETRY_SECONDS:
            raise ValueError(
                f"must be at least {2 * PUSH_RETRY_SECONDS} seconds: WeChat retries a push for"
                f" about {PUSH_RETRY_SECONDS} s, and a repeat must still find the first answer"
            )
        return value


class PosConfig(_Section):
    # The till takes the dynamic member code; the static card number (printed on the card and
    # in its QR code) only when this is true.
    allow_card_number: bool = False


class Config(_Section):
    server: ServerConfig = ServerConfig()
    database: DatabaseConfig = DatabaseConfig()
    redis: RedisConfig = RedisConfig()
    brand: BrandConfig = BrandConfig()
    miniapp: MiniappConfig = MiniappConfig()
    official: OfficialConfig = OfficialConfig()
    bot: BotConfig = BotConfig()
    wechat: WeChatConfig = WeChatConfig()
    security: SecurityConfig = SecurityConfig()
    points: PointsConfig = PointsConfig()
    tiers: TiersConfig = TiersConfig()
    rfm: RfmConfig = RfmConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    reminders: RemindersConfig = RemindersConfig()
    wallet_sync: WalletSyncConfig = WalletSyncConfig()
    coupons: CouponsConfig = CouponsConfig()
    pos: PosConfig = PosConfig()
    retention: RetentionConfig = RetentionConfig()

    def replace(self, **sections: Mapping[str, Any]) -> Config:
        """A copy with some keys of some sections changed, validated again."""
        data = self.model_dump()
        _reveal(data, self)
        for name, values in sections.items():
            data[name] = {**data[name], **values}
        return build_config(data)


def _decode_key(raw: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        return b""


def _reveal(data: dict[str, Any], config: Config) -> None:
    """Put secret values back into a model_dump() so that it can be validated again."""
    for section_name, section in data.items():
        model = getattr(config, section_name)
        for key in section:
            value = getattr(model, key)
            if isinstance(value, SecretStr):
                section[key] = value.get_secret_value()
            elif isinstance(value, tuple) and value and isinstance(value[0], SecretStr):
                section[key] = [v.get_secret_value() for v in value]


def build_config(data: Mapping[str, Any]) -> Config:
    """Validate a mapping of sections into a Config, or raise a one-line ConfigError."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown setting"
        raise ConfigError(f"config: {where}: {message}") from None


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    overrides: dict[str, dict[str, Any]] = {}
    sections = Config.model_fields
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        section, _, key = rest.partition("_")
        if section not in sections or not key:
            continue
        section_model = sections[section].annotation
        fields = getattr(section_model, "model_fields", {})
        if key not in fields:
            raise ConfigError(f"config: {name}: unknown setting {section}.{key}")
        try:
            parsed = _env_value(value, fields[key].annotation)
        except ValueError:
            raise ConfigError(f"config: {name}: not a JSON list") from None
        overrides.setdefault(section, {})[key] = parsed
    return overrides


def _env_value(value: str, annotation: Any) -> Any:
    """Environment values are strings; lists are given as JSON or comma-separated."""
    if "tuple" in str(annotation):
        if value.startswith("["):
            return json.loads(value)
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file (if any), apply environment overrides, validate.

    The file is `path`, else `$WXMEMBER_CONFIG`, else `./config.toml` when it exists.
    """
    environ = os.environ if environ is None else environ
    path = path or environ.get(ENV_PREFIX + "CONFIG") or None
    data: dict[str, Any] = {}
    config_path = Path(path) if path else DEFAULT_CONFIG_PATH
    if path and not config_path.exists():
        raise ConfigError(f"config: file {config_path} does not exist")
    if config_path.exists():
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config: {config_path}: not valid TOML ({exc})") from None
    for section, values in _env_overrides(environ).items():
        current = data.get(section, {})
        if not isinstance(current, dict):
            raise ConfigError(f"config: {section}: must be a table")
        data[section] = {**current, **values}
    return build_config(data)


def ensure_local_keys(config: Config) -> Config:
    """Fill empty security keys for the embedded (SQLite) setup from a local key file.

    A production database needs keys from the config; the embedded default keeps generated
    keys in a file beside the SQLite database, so a restart still reads its own data.
    """
    security = config.security
    if security.secret_key.get_secret_value() and security.data_key.get_secret_value():
        return config
    if not config.database.is_sqlite:
        missing = "secret_key" if not security.secret_key.get_secret_value() else "data_key"
        raise ConfigError(f"config: security.{missing}: required with a PostgreSQL database")
    db_path = config.database.url.removeprefix("sqlite://") or "wxmember.db"
    key_file = Path(db_path + ".keys.json") if db_path != ":memory:" else None
    keys: dict[str, str] = {}
    if key_file and key_file.exists():
        keys = json.loads(key_file.read_text(encoding="utf-8"))
    keys.setdefault("secret_key", secrets.token_urlsafe(32))
    keys.setdefault("data_key", base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
    if key_file:
        key_file.write_text(json.dumps(keys), encoding="utf-8")
        key_file.chmod(0o600)
    values = {
        name: security.__getattribute__(name).get_secret_value() or keys[name]
        for name in ("secret_key", "data_key")
    }
    return config.replace(security=values)


def generate_data_key() -> str:
    """A fresh AES-256 key in the format `security.data_key` expects."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def data_key_bytes(raw: SecretStr) -> bytes:
    return _decode_key(raw.get_secret_value())
