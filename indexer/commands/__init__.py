"""One module per `musicrec` command group; `indexer.cli` assembles them into one Typer app."""
