"""Config: TOML plus environment overrides, validated, one clear line per mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wxmember.core.config import ConfigError, ensure_local_keys, load_config


class TestLoadConfig:
    def test_defaults_without_a_file(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.chdir(tmp_path)
        config = load_config(environ={})
        assert config.database.url == "sqlite://wxmember.db"
        assert config.redis.url == ""
        assert config.brand.timezone == "Asia/Shanghai"
        assert config.official.mode == "safe"

    def test_file_then_environment(self, tmp_path: Path) -> None:
        path = tmp_path / "config.toml"
        path.write_text('[database]\nurl = "sqlite://a.db"\n[brand]\nname = "Tea"\n')
        config = load_config(path, environ={"WXMEMBER_DATABASE_URL": "postgres://u:p@h/db"})
        assert config.database.url == "postgres://u:p@h/db"
        assert config.brand.name == "Tea"

    def test_every_documented_key_loads(self) -> None:
        example = Path(__file__).parents[2] / "config.example.toml"
        config = load_config(example, environ={})
        assert config.server.port == 8080

    def test_secrets_hidden_in_repr(self) -> None:
        config = load_config(
            None, environ={"WXMEMBER_MINIAPP_SECRET": "topsecret-value", "WXMEMBER_X": "1"}
        )
        assert config.miniapp.secret.get_secret_value() == "topsecret-value"
        assert "topsecret-value" not in repr(config)
        assert "topsecret-value" not in str(config.model_dump())

    def test_list_from_environment(self) -> None:
        key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
        config = load_config(None, environ={"WXMEMBER_SECURITY_OLD_DATA_KEYS": f"{key},{key}"})
        assert len(config.security.old_data_keys) == 2

    @pytest.mark.parametrize(
        "value", ['["127.0.0.1", "10.0.0.0/8", "::1"]', "127.0.0.1, 10.0.0.0/8,::1"]
    )
    def test_trusted_proxies_from_environment(self, value: str) -> None:
        config = load_config(None, environ={"WXMEMBER_SERVER_TRUSTED_PROXIES": value})
        assert [str(net) for net in config.server.trusted_proxies] == [
            "127.0.0.1/32",
            "10.0.0.0/8",
            "::1/128",
        ]

    @pytest.mark.parametrize("url", ["redis://h:7000", "redis://h:7000/", "rediss://h:7000/0"])
    def test_a_cluster_by_one_node_s_url(self, url: str) -> None:
        environ = {"WXMEMBER_REDIS_CLUSTER": "true", "WXMEMBER_REDIS_URL": url}
        config = load_config(None, environ=environ)
        assert config.redis.cluster and config.redis.url == url
        assert not load_config(None, environ={}).redis.cluster

    def test_the_till_takes_only_the_dynamic_code_by_default(self) -> None:
        config = load_config(None, environ={})
        assert config.pos.allow_card_number is False
        assert config.server.trusted_proxies == ()


class TestConfigErrors:
    @pytest.mark.parametrize(
        ("environ", "expected"),
        [
            ({"WXMEMBER_DATABASE_URL": "mysql://x"}, "config: database.url: must start with"),
            ({"WXMEMBER_SERVER_PORT": "eighty"}, "config: server.port: "),
            ({"WXMEMBER_SERVER_PORT": "70000"}, "config: server.port: "),
            ({"WXMEMBER_BRAND_TIMEZONE": "Mars/Base"}, "config: brand.timezone: unknown time zone"),
            ({"WXMEMBER_OFFICIAL_MODE": "loud"}, "config: official.mode: "),
            ({"WXMEMBER_OFFICIAL_ENCODING_AES_KEY": "short"}, "config: official.encoding_aes_key"),
            ({"WXMEMBER_SECURITY_DATA_KEY": "abc"}, "config: security.data_key: must be 32 bytes"),
            ({"WXMEMBER_REDIS_URL": "http://x"}, "config: redis.url: "),
            ({"WXMEMBER_REDIS_CLUSTER": "true"}, "config: redis: cluster = true needs a url"),
            (
                {"WXMEMBER_REDIS_CLUSTER": "true", "WXMEMBER_REDIS_URL": "unix:///run/r.sock"},
                "config: redis: cluster = true needs a url",
            ),
            (
                {"WXMEMBER_REDIS_CLUSTER": "true", "WXMEMBER_REDIS_URL": "redis://h:7000/3"},
                "config: redis: a Redis Cluster has only database 0",
            ),
            ({"WXMEMBER_SERVER_COLOUR": "red"}, "config: WXMEMBER_SERVER_COLOUR: unknown setting"),
            ({"WXMEMBER_SERVER_TRUSTED_PROXIES": "nginx"}, "config: server.trusted_proxies.0: "),
            ({"WXMEMBER_SERVER_TRUSTED_PROXIES": "10.0.0.1/8"}, "config: server.trusted_proxies"),
            (
                {"WXMEMBER_SERVER_TRUSTED_PROXIES": '["10.0.0.1"'},
                "config: WXMEMBER_SERVER_TRUSTED_PROXIES: not a JSON list",
            ),
            ({"WXMEMBER_BRAND_CARD_QR": "https://x/{id}"}, "config: brand.card_qr: "),
            ({"WXMEMBER_POS_ALLOW_CARD_NUMBER": "maybe"}, "config: pos.allow_card_number: "),
        ],
    )
    def test_one_line_naming_the_key(self, environ: dict[str, str], expected: str) -> None:
        with pytest.raises(ConfigError) as caught:
            load_config(None, environ=environ)
        message = str(caught.value)
        assert message.startswith(expected)
        assert "\n" not in message

    def test_unknown_key_in_file(self, tmp_path: Path) -> None:
        path = tmp_path / "c.toml"
        path.write_text("[server]\nprot = 1\n")
        with pytest.raises(ConfigError, match=r"^config: server.prot: unknown setting$"):
            load_config(path, environ={})

    def test_broken_toml(self, tmp_path: Path) -> None:
        path = tmp_path / "c.toml"
        path.write_text("[server\n")
        with pytest.raises(ConfigError, match="not valid TOML"):
            load_config(path, environ={})

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="does not exist"):
            load_config(tmp_path / "nope.toml", environ={})

    def test_postgres_needs_keys(self) -> None:
        config = load_config(None, environ={"WXMEMBER_DATABASE_URL": "postgres://u@h/db"})
        with pytest.raises(ConfigError, match=r"^config: security.secret_key: required"):
            ensure_local_keys(config)

    def test_cli_prints_one_line_and_exits_2(self, tmp_path: Path) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "wxmember", "migrate"],
            env={"WXMEMBER_DATABASE_URL": "mysql://nope", "PATH": "/usr/bin:/bin"},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            "config: database.url: must start with sqlite:// or postgres://"
        ]


class TestLocalKeys:
    def test_sqlite_keys_generated_once_and_kept(self, tmp_path: Path) -> None:
        environ = {"WXMEMBER_DATABASE_URL": f"sqlite://{tmp_path / 'x.db'}"}
        first = ensure_local_keys(load_config(None, environ=environ))
        second = ensure_local_keys(load_config(None, environ=environ))
        assert first.security.data_key.get_secret_value()
        assert first.security.data_key == second.security.data_key
        assert (tmp_path / "x.db.keys.json").stat().st_mode & 0o777 == 0o600
