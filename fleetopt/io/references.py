"""Cross-reference checks: every name that refers to another must exist, before anything is built."""

from __future__ import annotations

from fleetopt.errors import Problem, did_you_mean
from fleetopt.io.schema import Instance, TransformerCard
from fleetopt.io.yamlsafe import KeyPath, dotted


def check_references(inst: Instance, file: str, lines: dict[KeyPath, int],
                     known_models: list[str] = ()) -> list[Problem]:
    """Problems with names that refer to something missing; `known_models` widens the suggestions."""
    problems: list[Problem] = []

    def bad(path: KeyPath, message: str) -> None:
        line = lines.get(path) or lines.get(path[:-1])
        problems.append(Problem(file, dotted(path), message, line))

    def need(path: KeyPath, name: str, known, what: str) -> bool:
        if name in known:
            return True
        suggest = set(known) | set(known_models) if what == "model" else known
        bad(path, f"unknown {what} '{name}'" + did_you_mean(name, suggest))
        return False

    regions, accels, pops = inst.regions, inst.accelerators, inst.populations
    for rname, region in regions.items():
        for aname, stock in region.gpus.items():
            need(("regions", rname, "gpus", aname), aname, accels, "accelerator")
            for cls in ("reserved", "spot"):   # procurement classes: a version 1 reader would plan without them
                if inst.fleetopt == 1 and getattr(stock, cls) is not None:
                    bad(("regions", rname, "gpus", aname, cls), f"'{cls}' is format version 2; write "
                        "'fleetopt: 2' at the top")
    seen_links: set[frozenset[str]] = set()
    for i, link in enumerate(inst.links):
        ok = need(("links", i, "a"), link.a, regions, "region") & need(("links", i, "b"), link.b, regions, "region")
        if ok and link.a == link.b:
            bad(("links", i, "b"), f"a link joins two different regions; both ends are '{link.a}'")
        pair = frozenset((link.a, link.b))
        if ok and pair in seen_links:
            bad(("links", i), f"duplicate link between '{link.a}' and '{link.b}'")
        seen_links.add(pair)
    jurisdictions = {r.jurisdiction for r in regions.values()}
    for pname, pop in pops.items():
        for rname in pop.rtt_ms:
            need(("populations", pname, "rtt_ms", rname), rname, regions, "region")
        for j, jur in enumerate(pop.allowed_jurisdictions or []):
            if jur not in jurisdictions:
                bad(("populations", pname, "allowed_jurisdictions", j),
                    f"no region has jurisdiction '{jur}'" + did_you_mean(jur, jurisdictions))
        if not pop.rtt_ms:
            bad(("populations", pname, "rtt_ms"), "give the round-trip time (ms) to at least one region")
    for jname, job in inst.training.items():
        base = ("training", jname)
        if need(base + ("model",), job.model, inst.models, "model"):
            card = inst.models[job.model]
            if isinstance(card, TransformerCard) and job.global_batch_tokens < job.seq_len:
                bad(base + ("global_batch_tokens",), f"a batch of {job.global_batch_tokens:g} tokens is shorter "
                    f"than one sequence ({job.seq_len} tokens)")
        if job.dataset_region is not None:
            need(base + ("dataset_region",), job.dataset_region, regions, "region")
        for i, rname in enumerate(job.allowed_regions or []):
            need(base + ("allowed_regions", i), rname, regions, "region")
        for i, aname in enumerate(job.allowed_accelerators or []):
            need(base + ("allowed_accelerators", i), aname, accels, "accelerator")
    for sname, svc in inst.serving.items():
        base = ("serving", sname)
        need(base + ("model",), svc.model, inst.models, "model")
        for pname in svc.demand_rps:
            need(base + ("demand_rps", pname), pname, pops, "population")
        for i, aname in enumerate(svc.allowed_accelerators or []):
            need(base + ("allowed_accelerators", i), aname, accels, "accelerator")
        if svc.allow_fp8 and svc.allowed_accelerators and not any(
                accels[a].fp8_tflops for a in svc.allowed_accelerators if a in accels):
            bad(base + ("allow_fp8",), "none of the allowed accelerators supports FP8")
    return problems
