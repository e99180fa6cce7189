"""What listeners need beyond what Bolt gives them, handed to every listener through Bolt's
context by one global middleware (as bolt-python's examples pass their own objects)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slack_bolt import BoltContext, BoltResponse
from sqlalchemy.engine import Engine

from bot.settings import Settings
from bot.slack.render import Renderer

KEY = "slabot_deps"


@dataclass(frozen=True)
class Deps:
    settings: Settings
    engine: Engine
    renderer: Renderer


def provide(deps: Deps) -> Callable[..., BoltResponse]:
    """The middleware: every request's context carries `deps`."""

    def provide_deps(context: BoltContext, next: Callable[[], BoltResponse]) -> BoltResponse:
        context[KEY] = deps
        return next()

    return provide_deps


def deps_of(context: BoltContext) -> Deps:
    deps: Deps = context[KEY]
    return deps
