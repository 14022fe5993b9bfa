"""Card faces are drawn in worker processes (wxmember.core.cpu): the same picture as drawn in
the service, a dead worker costs one request a 500 and the pool recovers, and stopping the
service leaves no worker behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cards import card_image
from cards.face import render_card_face
from cards.fonts import card_font_path
from tests.cards.crash import die_drawing
from tests.cards.test_face import FACE
from tests.members.flows import cardholder, seed_tiers
from wxmember.app import create_app
from wxmember.core import keys
from wxmember.core.config import Config
from wxmember.core.cpu import CpuPool, CpuPoolBroken
from wxmember.core.fake_wechat import FakeWeChat


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


async def test_a_face_drawn_in_a_worker_is_the_face_drawn_here() -> None:
    pool = CpuPool(1)
    font = card_font_path("")
    try:
        assert await pool.run(render_card_face, FACE, font) == render_card_face(FACE, font)
        assert len(pool.pids()) == 1 and pool.pids()[0] != os.getpid()
    finally:
        await pool.close()


async def test_a_dead_worker_fails_one_call_and_the_next_runs_on_a_new_one() -> None:
    pool = CpuPool(1)
    try:
        await pool.run(render_card_face, FACE, None)
        first = pool.pids()
        with pytest.raises(CpuPoolBroken):
            await pool.run(die_drawing, FACE, None)
        assert await pool.run(render_card_face, FACE, None) == render_card_face(FACE, None)
        assert pool.pids() and not set(pool.pids()) & set(first)
    finally:
        await pool.close()


async def test_an_error_in_the_drawing_reaches_the_caller_as_itself() -> None:
    pool = CpuPool(1)
    try:
        with pytest.raises(ValueError):
            await pool.run(int, "not a number")
        assert await pool.run(int, "42") == 42
    finally:
        await pool.close()


async def test_without_processes_it_draws_in_a_thread() -> None:
    pool = CpuPool(0)
    assert await pool.run(render_card_face, FACE, None) == render_card_face(FACE, None)
    assert pool.pids() == []
    await pool.close()


async def test_a_dead_worker_answers_500_once_and_the_card_is_drawn_next_time(
    client: TestClient, fake_wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_tiers()
    headers, _ = await cardholder(client, fake_wechat)
    monkeypatch.setattr(card_image, "render_card_face", die_drawing)
    failed = await client.get("/api/v1/card/image", headers=headers)
    assert failed.status == 500
    assert (await failed.json())["error"]["code"] == "internal_error"
    monkeypatch.undo()
    drawn = await client.get("/api/v1/card/image", headers=headers)
    assert drawn.status == 200 and drawn.content_type == "image/png"


async def test_stopping_the_service_leaves_no_worker(
    config: Config, fake_wechat: FakeWeChat
) -> None:
    app = create_app(config)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        await seed_tiers()
        headers, _ = await cardholder(client, fake_wechat)
        assert (await client.get("/api/v1/card/image", headers=headers)).status == 200
        workers = app[keys.SERVICES].cpu.pids()
        assert workers and all(_alive(pid) for pid in workers)
    finally:
        await client.close()
    assert not any(_alive(pid) for pid in workers)
