"""The `[bot]` config section: keyword table, texts, the binding page."""

from __future__ import annotations

import pytest

from wxmember.core.config import ConfigError, build_config, load_config


class TestBotSection:
    def test_keywords_from_the_environment_are_json(self) -> None:
        config = load_config(environ={"WXMEMBER_BOT_KEYWORDS": '{"qd": "checkin", "jf": "points"}'})
        assert config.bot.keywords == {"qd": "checkin", "jf": "points"}

    @pytest.mark.parametrize(
        ("bot", "message"),
        [
            ({"keywords": {"qd": "dance"}}, "bot.keywords.qd"),
            ({"keywords": {" ": "help"}}, "bot.keywords"),
            ({"keywords": "not json"}, "bot.keywords"),
            ({"miniapp_binding_path": "/pages/bind"}, "bot.miniapp_binding_path"),
            ({"miniapp_binding_path": "pages/bind?x=1"}, "bot.miniapp_binding_path"),
            ({"help_text": ""}, "bot.help_text"),
            ({"max_body_bytes": 10}, "bot.max_body_bytes"),
            ({"colour": "red"}, "bot.colour: unknown setting"),
        ],
    )
    def test_bad_settings_name_the_key(self, bot: dict[str, object], message: str) -> None:
        with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
            build_config({"bot": bot})

    def test_defaults(self) -> None:
        bot = build_config({}).bot
        assert bot.keywords == {}
        assert "签到" in bot.help_text
        assert "{brand}" in bot.welcome_text
        assert bot.max_body_bytes == 65536
