"""One module per `musicrec` command group; `cli.app` assembles them into one Typer app."""
