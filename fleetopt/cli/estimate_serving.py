"""`fleetopt estimate --serving`: one LLM replica's TTFT, ITL, latency and throughput at a concurrency, or its
capacity at a p99 SLO (fleetopt.candidates.estimate_serving). Kept apart from the training estimate."""

from __future__ import annotations

import json

import typer

from fleetopt.errors import InputError, bad_argument


def run_serving(model, accelerator, tp, precision, prompt_tokens, output_tokens, concurrency, slo_p99_ms,
                max_batch, as_json: bool, training_set: dict) -> None:
    """Check the arguments, estimate, print (or JSON); bad input exits 2 with one line."""
    from fleetopt.candidates.estimate_serving import estimate_serving
    from fleetopt.cli.common import fail_input

    try:
        for argument, value in training_set.items():
            if value:
                raise bad_argument(argument, "is a training option; drop it with --serving")
        for argument, value in (("tp", tp), ("prompt_tokens", prompt_tokens), ("output_tokens", output_tokens)):
            if value is None:
                raise bad_argument(argument, "is required with --serving")
        row = estimate_serving(model, accelerator, tp, precision or "bf16", prompt_tokens, output_tokens,
                               concurrency=concurrency, slo_p99_ms=slo_p99_ms, max_batch=max_batch)
    except InputError as err:
        fail_input(err)
    if as_json:
        typer.echo(json.dumps(row, indent=2))
        return
    _print(row)


def _print(row: dict) -> None:
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column()
    table.add_row("replica", f"tp {row['tp']} {row['precision']}",
                  f"{row['slots']} slots (KV fits {row['kv_fit_sequences']})")
    table.add_row("request", f"{row['prompt_tokens']:,} in", f"{row['output_tokens']:,} out")
    if row["mode"] == "concurrency":
        table.add_row("concurrency", f"{row['concurrency']:,}", "closed loop")
    else:
        table.add_row("p99 SLO", f"{row['slo_p99_ms']:,.0f} ms",
                      f"p99 at this load {row['p99_latency_s'] * 1e3:,.0f} ms"
                      if row["rps"] > 0 else f"[red]idle p99 {row['idle_p99_latency_s'] * 1e3:,.0f} ms[/red]")
    table.add_row("TTFT", f"{row['ttft_s'] * 1e3:,.1f} ms", "")
    table.add_row("inter-token latency", f"{row['itl_s'] * 1e3:,.2f} ms", "")
    table.add_row("request latency", f"{row['latency_s']:,.2f} s", "mean")
    table.add_row("throughput", f"{row['output_tokens_per_s']:,.0f} tokens/s", f"{row['rps']:,.2f} requests/s")
    table.add_row("saturation", f"{row['saturation_rps']:,.2f} requests/s", "all slots busy")
    title = f"{row['model']} on {row['gpus']} x {row['accelerator']}"
    Console().print(Panel(table, title=title, title_align="left", expand=False))
