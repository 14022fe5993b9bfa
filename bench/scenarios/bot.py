"""Official Account scenarios: text pushes to /wechat/official and the bot's reply.

The pushes are built the way WeChat sends them (tests/support/wechat_push.py): signed query,
and in safe or compatible mode (`official.mode`, the default is safe) the message sealed with the
EncodingAESKey; pass `--env WXMEMBER_OFFICIAL_MODE=plain` for plaintext. Every push has its own
MsgId, since a repeated one is answered from the deduplication record. Timestamps are those of
the end of the setup: the webhook accepts them for `official.timestamp_window_seconds` (300 s).

Beside the bare baseline the same pushes go to a bare aiohttp + wechatpy webhook with a fixed
reply (`bench.wechat_echo`) and to the same bot on WeRoBot under gunicorn, when
`python -m bench setup-werobot` has built its environment.
"""

from __future__ import annotations

import sys
import time
from typing import cast
from urllib.parse import urlencode

from aiohttp.test_utils import TestClient

from bench.load import REPO_ROOT
from bench.prepared import Request
from bench.registry import SetupContext, Target, scenario
from bench.seed import seed_members
from bench.seed_shop import grant_points
from bench.werobot import DEFAULT_VENV, werobot_target, werobot_version
from tests.support.wechat_push import OfficialPusher, text_xml

HELP_MAX_RPS = 4000
POINTS_MAX_RPS = 2500
FOLLOWERS_PER_CONNECTION = 4
FOLLOWER_POINTS = 1280
FIRST_MSG_ID = 7_000_000_000_000_000_000


def _pushes(ctx: SetupContext, openids: list[str], content: str, count: int) -> list[Request]:
    """`count` text pushes from the followers in turn, each with its own MsgId and nonce."""
    official = ctx.config.official
    # only the builder is used: it never touches the client
    pusher = OfficialPusher(cast(TestClient, None), ctx.config)
    encrypt = official.mode != "plain"
    now = int(time.time())
    requests = []
    for n in range(count):
        xml = text_xml(openids[n % len(openids)], content, msg_id=FIRST_MSG_ID + n, at=now)
        body, query = pusher.body(xml, pusher.query(now, nonce=str(100_000 + n)), encrypt=encrypt)
        path = f"/wechat/official?{urlencode(query)}"
        requests.append(Request("POST", path, (("Content-Type", "text/xml"),), body.encode()))
    return requests


def _comparisons(ctx: SetupContext) -> list[Target]:
    official = ctx.config.official
    token = official.token.get_secret_value()
    aes_key = official.encoding_aes_key.get_secret_value()
    reply = ctx.config.bot.help_text
    echo = Target(
        "aiohttp + wechatpy echo",
        lambda port: [
            sys.executable,
            "-m",
            "bench.wechat_echo",
            "--port",
            str(port),
            "--token",
            token,
            "--appid",
            official.appid,
            "--aes-key",
            aes_key,
            "--reply",
            reply,
        ],
        REPO_ROOT,
    )
    version = werobot_version()
    if version is None:
        ctx.notes.append(
            f"WeRoBot not loaded: no working environment at {DEFAULT_VENV} "
            "(build it with `python -m bench setup-werobot`)"
        )
        return [echo]
    ctx.notes.append(f"WeRoBot {version}, gunicorn sync worker x1 (closes every connection)")
    robot_key = aes_key if official.mode != "plain" else ""
    return [echo, werobot_target(token, official.appid, robot_key, reply)]


@scenario(
    "bot-text-help",
    "POST /wechat/official, text 帮助 (help): signature, (AES), parse, keyword route, "
    "the help text (a pure route: no Redis, no database)",
    once=True,
    targets=_comparisons,
)
async def bot_text_help(ctx: SetupContext) -> list[Request]:
    openids = [f"follower-{n}" for n in range(ctx.connections * FOLLOWERS_PER_CONNECTION)]
    return _pushes(ctx, openids, "帮助", ctx.request_budget(HELP_MAX_RPS))


@scenario(
    "bot-text-points",
    "POST /wechat/official, text 积分 (points) from bound followers with points: signature, "
    "(AES), parse, deduplication claim in Redis, member read, points summary, the reply",
    once=True,
    targets=_comparisons,
)
async def bot_text_points(ctx: SetupContext) -> list[Request]:
    count = ctx.connections * FOLLOWERS_PER_CONNECTION
    members = await seed_members(count, official=True)
    await grant_points(ctx.config, members, FOLLOWER_POINTS)
    openids = [member.official_openid or "" for member in members]
    return _pushes(ctx, openids, "积分", ctx.request_budget(POINTS_MAX_RPS))
