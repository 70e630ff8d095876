"""`musicrec`: the command line of the batch side (index, train, enrich, spotify-fetch, db,
interactions, stats, collections, evaluate, worker).

One Typer app; each command lives in `cli.commands.<name>` and imports its heavy
dependencies (torch, LightFM) only when it runs, so `musicrec --help` answers at once.
Commands return an exit code; domain errors become one `error: …` line, not a traceback.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import click
import typer

from cli.commands import collections, db, evaluate, index, spotify, train, worker
from cli.submit import SubmitError
from core.interactions.database import DatabaseError
from core.interactions.files import InteractionsError
from core.store import StoreError
from indexer.catalog import CatalogError
from schemas.layout import LayoutMismatchError
from schemas.settings import SettingsError

log = logging.getLogger("musicrec")

app = typer.Typer(
    name="musicrec",
    help=__doc__.split("\n")[0] if __doc__ else None,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("index")(index.index)
app.command("train")(train.train_command)
app.command("enrich")(spotify.enrich)
app.command("spotify-fetch")(spotify.spotify_fetch)
app.add_typer(db.db_app, name="db")
app.add_typer(db.interactions_app, name="interactions")
app.command("stats")(db.stats_command)
app.add_typer(collections.app, name="collections")
app.command("evaluate")(evaluate.evaluate)
app.command("worker")(worker.worker)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        code = app(args=list(argv) if argv is not None else None, standalone_mode=False)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    except (
        CatalogError,
        LayoutMismatchError,
        StoreError,
        DatabaseError,
        InteractionsError,
        SubmitError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (click.exceptions.Exit, typer.Exit) as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except typer.TyperException as exc:  # typer >= 0.29 raises its own copy of click's errors
        print(f"error: {exc}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 1
    except OSError as exc:  # a full disk, a file that exists, a directory that does not
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # every failure is one line; the traceback goes to the debug log
        log.debug("unexpected failure", exc_info=True)
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
