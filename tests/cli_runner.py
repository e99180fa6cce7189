"""`slabot …` inside the test process: the command line's own entry point (`bot.cli.main`)
with its own arguments, environment, working directory and captured output, as a subprocess
would have them, without a second of imports per command. Commands that run until stopped
(`serve`, `clock`, `run`) and tests about the process itself still start a subprocess."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import bot.cli
from bot.cli import common

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # as configure_logging


@dataclass(frozen=True)
class Ran:
    """What subprocess.run would have returned."""

    returncode: int
    stdout: str
    stderr: str


def run_slabot(*args: str, env: dict[str, str], cwd: Path | None = None) -> Ran:
    out, err = io.StringIO(), io.StringIO()
    logs = logging.StreamHandler(err)
    logs.setFormatter(logging.Formatter(LOG_FORMAT))
    root, level = logging.getLogger(), logging.getLogger().level
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.dict(os.environ, env, clear=True))
        stack.enter_context(contextlib.chdir(cwd or Path.cwd()))
        stack.enter_context(mock.patch.object(sys, "argv", ["slabot", *args]))
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        # a console reads COLUMNS when it is made, as it is in a new process
        for console in (common.out, common.err):
            stack.callback(setattr, console, "width", console.width)
            console.width = int(env.get("COLUMNS") or 80)
        root.addHandler(logs)
        root.setLevel(logging.INFO)
        try:
            bot.cli.main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        except Exception:  # a crash: Python's own exit status and traceback
            traceback.print_exc(file=err)
            code = 1
        finally:
            root.removeHandler(logs)
            root.setLevel(level)
    return Ran(code, out.getvalue(), err.getvalue())
