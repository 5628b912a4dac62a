"""The `fleetopt` command: thin wrappers that parse options, call the API and print. One module per command
group (init, solve, validate/schema, explain, verify, export, estimate, whatif/pareto, diff); what they share (bad input
as `error:` lines and exit 2) is in common.py. Each command's heavy imports wait inside its function, so
`fleetopt --help` stays fast.

Exit codes (fleetopt.errors.EXIT_CODES): 0 a plan, 2 bad input, 3 infeasible, 4 no plan in time, 1 internal error;
141 when stdout's reader left before a command had printed all (`solve` still writes its files and exits as it would).
"""

from __future__ import annotations

import gc
import sys

import typer

from fleetopt.cli.common import closed_pipe, stdout_to_devnull
from fleetopt.cli.diff import diff
from fleetopt.cli.estimate import estimate
from fleetopt.cli.explain import explain
from fleetopt.cli.init import init
from fleetopt.cli.export import export
from fleetopt.cli.solve import solve
from fleetopt.cli.validate import schema, validate
from fleetopt.cli.verify import verify
from fleetopt.cli.whatif import pareto, whatif
from fleetopt.errors import EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, InputError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Plan an ML fleet: training parallelism, serving placement, power, carbon, monitoring.")

for command in (init, validate, schema, solve, estimate, explain, whatif, pareto, verify, export, diff):
    app.command()(command)


def main() -> None:
    try:
        _main()
    finally:
        # every output is written: the interpreter's last collections need not walk the objects left (~0.1 s
        # of a global-fleet solve's exit, benchmarks/RESULTS.md, twelfth session); they are freed on exit anyway
        gc.freeze()


def _main() -> None:
    # typer raises click's exceptions, from its own copy of click in recent versions
    click = sys.modules[typer.BadParameter.__module__]
    try:
        code = app(standalone_mode=False, prog_name="fleetopt")
    except click.NoArgsIsHelpError as err:  # bare `fleetopt`: the help (rich has printed it already)
        if err.format_message().strip():
            typer.echo(err.format_message(), err=True)
        sys.exit(EXIT_BAD_INPUT)
    except click.ClickException as err:  # a bad option or argument: one line, exit 2
        param = getattr(err, "param", None)
        if isinstance(err, click.BadParameter) and param is not None and not isinstance(err, click.MissingParameter):
            name = max(param.opts, key=len) if getattr(param, "opts", None) else param.name
            print(f"error: {name}: {err.message}", file=sys.stderr)
        else:
            print(f"error: {err.format_message()}", file=sys.stderr)
        sys.exit(err.exit_code)
    except getattr(click, "Abort", typer.Abort):
        print("interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except InputError as err:  # raised outside a command's own handling
        for problem in err.problems:
            print(f"error: {problem}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:   # stdout's reader left (`| head`) mid-print: no traceback, the shell's code for it
        stdout_to_devnull()
        sys.exit(EXIT_BROKEN_PIPE)
    except SystemExit as leaving:   # rich and click meet a closed pipe with exit 1, fleetopt's internal error
        if closed_pipe(leaving):
            stdout_to_devnull()
            sys.exit(EXIT_BROKEN_PIPE)
        raise
    sys.exit(code if isinstance(code, int) else 0)
