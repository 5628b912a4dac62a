"""`fleetopt estimate`: one training layout's step time and memory, or a search for the fastest that fit.

Only typer at import time: numpy, pydantic and rich load inside the command so `fleetopt --help` stays fast.
"""

from __future__ import annotations

import json

import typer

from fleetopt.errors import InputError, bad_argument


def _check_mode(search: bool, tp, pp, sync_group) -> None:
    if search:
        for argument, value in (("tp", tp), ("pp", pp)):
            if value is not None:
                raise bad_argument(argument, "cannot be combined with --search (the search chooses tp and pp); "
                                   "drop it or drop --search")
        if sync_group is not None:
            raise bad_argument("sync_group", "the search is fully synchronous; drop --sync-group or give --tp "
                               "and --pp instead of --search")
    elif tp is None or pp is None:
        raise bad_argument("tp" if tp is None else "pp", "give both --tp and --pp, or --search to find them")


def _print_estimate(row: dict) -> None:
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table

    step = row["step_time_s"]
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column()
    cp = f"cp {row['cp']}, " if row["cp"] > 1 else ""
    table.add_row("layout", f"tp {row['tp']} x pp {row['pp']} x dp {row['dp']}", f"{cp}interleave {row['interleave']}")
    table.add_row("micro-batches", f"{row['num_microbatches']} x {row['micro_batch']}",
                  f"batch {row['global_batch']} x seq {row['seq_len']}")
    table.add_row("step time", f"{step:,.3f} s", f"{row['tokens_per_s']:,.0f} tokens/s")
    table.add_row("model TFLOP/s per GPU", f"{row['model_tflops_per_gpu']:.1f}", f"MFU {row['mfu']:.1%}")
    table.add_row("hardware TFLOP/s per GPU", f"{row['hardware_tflops_per_gpu']:.1f}",
                  f"recompute {row['recompute']} counted")
    table.add_row("memory per GPU", f"{row['memory_gb_per_gpu']:.1f} GB",
                  f"of {row['hbm_gb']:g} GB: " + ("fits" if row["fits"] else "[red]does not fit[/red]"))
    table.add_row("binding term", row["binding_term"], "")
    for key in ("compute_s", "comm_s", "bubble_s", "sync_s", "overlap_s"):
        sign = "-" if key == "overlap_s" else ""
        value = row["breakdown"][key]
        table.add_row(f"  {key[:-2]}", f"{sign}{value:,.3f} s", f"{sign}{value / step:.1%}")
    title = f"{row['model']} on {row['gpus']} x {row['accelerator']}"
    Console().print(Panel(table, title=title, title_align="left", expand=False))


def _print_search(found: dict, gpus: int) -> None:
    from rich.console import Console
    from rich.table import Table

    shown, fit = len(found["best"]), found["fitting"]
    fastest = f"the {shown} fastest" if shown < fit else f"all {fit}"
    table = Table(title=f"{fastest} of {fit} layouts that fit {gpus} GPUs ({found['evaluated']:,} evaluated)",
                  title_justify="left", box=None, pad_edge=False, header_style="bold")
    for name in ("tp", "pp", "dp", "mb", "recompute", "v", "sp", "do", "step s", "TFLOP/s", "MFU", "GB",
                 "binding"):
        table.add_column(name, justify="left" if name in ("recompute", "binding") else "right", no_wrap=True)
    for row in found["best"]:
        table.add_row(str(row["tp"]), str(row["pp"]), str(row["dp"]), str(row["micro_batch"]), row["recompute"],
                      str(row["interleave"]), "y" if row["sequence_parallel"] else "n",
                      "y" if row["distributed_optimizer"] else "n", f"{row['step_time_s']:.3f}",
                      f"{row['model_tflops_per_gpu']:.1f}", f"{row['mfu']:.1%}",
                      f"{row['memory_gb_per_gpu']:.1f}", row["binding_term"])
    console = Console()
    console.print(table)
    console.print("TFLOP/s: model FLOPs per GPU (no recompute); GB: memory per GPU; mb: micro-batch\n"
                  "v: model chunks per stage; sp: sequence parallel; do: distributed optimizer")


def estimate(
    model: str = typer.Option(..., "--model", help="shipped model name (e.g. llama3-70b) or a card YAML path"),
    accelerator: str = typer.Option(..., "--accelerator", help="e.g. a100-sxm4-80gb, h100-sxm5-80gb, h100-pcie, l4"),
    gpus: int | None = typer.Option(None, "--gpus", help="GPUs of the job: tp x cp x pp x dp exactly (training)"),
    tp: int | None = typer.Option(None, "--tp", help="tensor-parallel degree"),
    pp: int | None = typer.Option(None, "--pp", help="pipeline stages (uneven: first and last one layer lighter)"),
    cp: int = typer.Option(1, "--cp", help="context-parallel degree: each sequence split over cp GPUs"),
    micro_batch: int | None = typer.Option(
        None, "--micro-batch", help="sequences per micro-batch (default 1; searched with --search)"),
    global_batch: int | None = typer.Option(
        None, "--global-batch", help="sequences per step; default one per GPU (= --gpus), the ratio of "
        "Megatron-LM's largest runs (Narayanan et al. 2021, Table 1)"),
    seq_len: int = typer.Option(2048, "--seq-len", help="tokens per sequence"),
    recompute: str | None = typer.Option(None, "--recompute",
                                            help="full | selective | none (default full; searched with --search)"),
    interleave: int | None = typer.Option(None, "--interleave",
                                             help="model chunks per pipeline stage (default 1; searched)"),
    sync_group: int | None = typer.Option(None, "--sync-group",
                                             help="DP replicas that AllReduce every step (default dp)"),
    flash_attention: bool = typer.Option(False, "--flash-attention/--no-flash-attention"),
    sequence_parallel: bool | None = typer.Option(
        None, "--sequence-parallel/--no-sequence-parallel", help="(default off; searched)"),
    distributed_optimizer: bool | None = typer.Option(
        None, "--distributed-optimizer/--no-distributed-optimizer", help="(default off; searched)"),
    nic_gb_s: float | None = typer.Option(None, "--nic-gb-s",
                                             help="NIC GB/s per GPU (default 25: one 200 Gb/s HDR link per GPU)"),
    pod_gpus: int | None = typer.Option(None, "--pod-gpus", help="GPUs per full-bisection pod (default: no limit)"),
    oversubscription: float = typer.Option(1.0, "--oversubscription", help="network oversubscription above a pod"),
    search: bool = typer.Option(False, "--search", help="rank every layout that fits, fastest first"),
    top: int = typer.Option(10, "--top", help="with --search: how many layouts to print"),
    as_json: bool = typer.Option(False, "--json", help="print JSON (a list with --search)"),
    serving: bool = typer.Option(False, "--serving", help="estimate one LLM serving replica instead"),
    precision: str | None = typer.Option(None, "--precision", help="--serving: bf16 | fp8 weights (default bf16)"),
    prompt_tokens: int | None = typer.Option(None, "--prompt-tokens", help="--serving: tokens per prompt"),
    output_tokens: int | None = typer.Option(None, "--output-tokens", help="--serving: tokens per answer"),
    concurrency: int | None = typer.Option(None, "--concurrency", help="--serving: closed-loop clients"),
    slo_p99_ms: float | None = typer.Option(None, "--slo-p99-ms", help="--serving: capacity at this p99"),
    max_batch: int | None = typer.Option(None, "--max-batch",
                                         help="--serving: slots (default: KV-cache fit, at most 256)"),
):
    """Estimate one training job: step time, TFLOP/s, MFU, memory and the fleet-law breakdown, or --search;
    with --serving, one LLM replica's TTFT, inter-token latency and throughput."""
    from fleetopt.candidates.estimate import estimate_training, search_training_detail
    from fleetopt.cli.common import fail_input

    if serving:
        from fleetopt.cli.estimate_serving import run_serving

        run_serving(model, accelerator, tp, precision, prompt_tokens, output_tokens, concurrency, slo_p99_ms,
                    max_batch, as_json, {"gpus": gpus, "pp": pp, "micro_batch": micro_batch,
                                         "global_batch": global_batch, "recompute": recompute, "search": search})
        return
    serving_set = {"precision": precision, "prompt_tokens": prompt_tokens, "output_tokens": output_tokens,
                   "concurrency": concurrency, "slo_p99_ms": slo_p99_ms, "max_batch": max_batch}
    try:
        for argument, value in serving_set.items():
            if value is not None:
                raise bad_argument(argument, "is a serving option; add --serving")
        if gpus is None:
            raise bad_argument("gpus", "is required for a training estimate (or add --serving)")
    except InputError as err:
        fail_input(err)

    network = dict(nic_gb_s=nic_gb_s, pod_gpus=pod_gpus, oversubscription=oversubscription)
    try:
        _check_mode(search, tp, pp, sync_group)
        if search:
            found = search_training_detail(
                model, accelerator, gpus, global_batch=global_batch, seq_len=seq_len, micro_batch=micro_batch,
                recompute=recompute, interleave=interleave, flash_attention=flash_attention,
                sequence_parallel=sequence_parallel, distributed_optimizer=distributed_optimizer, top=top,
                cp=cp, **network)
        else:
            row = estimate_training(
                model, accelerator, gpus, tp, pp, micro_batch=1 if micro_batch is None else micro_batch,
                global_batch=global_batch, seq_len=seq_len, recompute=recompute or "full",
                interleave=1 if interleave is None else interleave, sync_group=sync_group,
                flash_attention=flash_attention, sequence_parallel=bool(sequence_parallel),
                distributed_optimizer=bool(distributed_optimizer), cp=cp, **network)
    except InputError as err:
        fail_input(err)

    if not search:
        if as_json:
            typer.echo(json.dumps(row, indent=2))
            return
        if not row["fits"]:
            typer.echo(row["note"])
        _print_estimate(row)
        return
    if as_json:
        typer.echo(json.dumps(found["best"], indent=2))
        return
    if not found["best"]:
        typer.echo(f"no layout of {gpus} GPUs fits: the least any needs is {found['least_memory_gb']:.1f} GB per "
                   f"GPU, the accelerator has {found['hbm_gb']:g} GB")
        return
    _print_search(found, gpus)
