"""What fleetopt knows about each constraint family, declared once: its fleet-stack layer, units, meaning, the
row it adds, the instance setting that loosens it (and which way), and how one more unit of it reads in words.

Everything else reads this table: formulation/families.py and monitoring.py take each family's units, meaning
and sharing from it; explain/binding.py its layer and unit phrase; explain/infeasible.py and screening.py its
relaxable setting; verify/report.py its units and layer; the README's formulation table is `markdown_table()`
(tests/formulation/test_family_facts.py keeps it current). The module imports nothing from fleetopt, so the independent
verifier (fleetopt.verify, which never imports fleetopt.formulation) reads the same facts.

Stages: "formulation" families are rows of the MILP; "screening" rules act when candidates are enumerated (a
job with no candidate that fits in memory or meets its deadline, a population with no route within its SLO or
residency); "verify" families are checks only the independent verifier makes (decisions that are legal,
figures the plan states).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DISTRIBUTION = "Distribution"
DEPLOYMENT = "Deployment"
INFRASTRUCTURE = "Infrastructure"
COMMUNICATION = "Communication"
SUSTAINABILITY = "Governance (sustainability)"
RESPONSIBILITY = "Governance (responsibility)"

Stage = Literal["formulation", "screening", "verify"]


@dataclass(frozen=True)
class Setting:
    """The instance value a planner moves to loosen a family's rows.

    `path` is the instance path with the row's key fields in braces (regions.{region}.power_cap_mw); `verb` is
    how loosening reads ("raise", "extend"); every setting here loosens upward (a larger cap, stock, budget,
    deadline or SLO allows more plans), which `loosens_upward` states so the advice is checked against it.
    """

    path: str
    label: str                 # "power_cap_mw of {region}": what the advice line calls it
    units: str                 # units of the setting's value ("MW", "h", "ms"; "" for a count)
    verb: str = "raise"
    integer: bool = False      # a count: suggestions are whole numbers
    loosens_upward: bool = True


@dataclass(frozen=True)
class FamilyFacts:
    name: str
    stage: Stage
    layer: str
    key: tuple[str, ...]       # names of the key fields: power_cap[region]
    units: str                 # what a row measures
    meaning: str               # one line, for reports
    row: str = ""              # the row in the README's notation (formulation families)
    phrase: str = ""           # one more unit of the limit, in words, with key fields in braces
    setting: Setting | None = None
    shared: bool = False       # a fleet resource many decisions draw on (the rows that join jobs and services)

    def key_fields(self, key) -> dict[str, str]:
        """The row's key as {field: value}, plus `key` (all fields joined with commas); over time slices a row
        holds per slice and its key ends with one more field, `slice`."""
        values = [str(k) for k in key]
        fields = dict(zip(self.key, values))
        if len(values) == len(self.key) + 1:
            fields["slice"] = values[-1]
        fields["key"] = ",".join(values)
        return fields

    def row_name(self, key) -> str:
        return f"{self.name}[{','.join(str(k) for k in key)}]"

    def unit_phrase(self, key) -> str:
        """One more unit of the row's limit, in words: 'MW of power cap in us-east'."""
        if not self.phrase:
            return f"{self.units} of {self.row_name(key)}"
        fields = self.key_fields(key)
        per_slice = "slice" in fields and "slice" not in self.key
        return self.phrase.format(**fields) + (f" in slice {fields['slice']}" if per_slice else "")

    def setting_path(self, key) -> str | None:
        return None if self.setting is None else ".".join(self.setting_parts(key))

    def setting_parts(self, key) -> list[str]:
        """The setting's instance path as its parts (a region name may hold a dot; the parts keep it whole)."""
        fields = self.key_fields(key)
        return [part.format(**fields) for part in self.setting.path.split(".")]

    def setting_label(self, key) -> str:
        return self.setting.label.format(**self.key_fields(key))

    def relaxable(self) -> bool:
        return self.setting is not None


def _declare(*facts: FamilyFacts) -> dict[str, FamilyFacts]:
    out = {}
    for f in facts:
        if f.name in out:
            raise ValueError(f"family '{f.name}' is declared twice")
        out[f.name] = f
    return out


FAMILIES: dict[str, FamilyFacts] = _declare(
    # ------------------------------------------------------------ formulation (formulation/families.py)
    FamilyFacts(
        "assign", "formulation", DISTRIBUTION, ("job",), "choices",
        "each training job runs exactly one candidate", row="Σ_c x = 1", phrase="choice for {job}"),
    FamilyFacts(
        "deadline", "formulation", DISTRIBUTION, ("job",), "hours",
        "the job finishes (with failures and checkpoints) before its deadline",
        row="Σ_c wall_h·x ≤ deadline (also enforced when candidates are enumerated)",
        phrase="hour of deadline for {job}",
        setting=Setting("training.{job}.deadline_hours", "the deadline of {job}", "h", verb="extend")),
    FamilyFacts(
        "run_window", "formulation", DISTRIBUTION, ("job", "candidate", "slice"), "share of the slice",
        "a layout runs only once chosen and only in the job's window [earliest_start_hour, deadline]",
        row="run ≤ a·x (time slices only)", phrase="share of slice {slice} in the window of {job}"),
    FamilyFacts(
        "run_steady", "formulation", DISTRIBUTION, ("job", "candidate", "slice"), "share of the slice",
        "a job that cannot pause runs the same share of every slice in its window",
        row="a_s0·run_s = a_s·run_s0 (time slices only)", phrase="share of slice {slice} for {job}"),
    FamilyFacts(
        "run_resume", "formulation", DISTRIBUTION, ("job", "candidate", "slice"), "share of the days",
        "a pausable job resumes (and pays a restart) where its share of the day rises",
        row="run_s - run_prev(s) ≤ resume_s (time slices only)", phrase="resume of {job} in slice {slice}"),
    FamilyFacts(
        "coverage", "formulation", DISTRIBUTION, ("job", "candidate"), "hours",
        "the hours a job runs, less a restart per resume, cover its wall hours inside the horizon",
        row="Σ_s w·run - restart·Σ days·resume ≥ wall_h·x (time slices only)", phrase="hour of work for {job}"),
    FamilyFacts(
        "demand", "formulation", DEPLOYMENT, ("service", "population"), "requests/s",
        "all of a population's demand for a service is routed", row="Σ f = D",
        phrase="request/s of {service} demand from {population}"),
    FamilyFacts(
        "replica_capacity", "formulation", DEPLOYMENT, ("service", "region", "accelerator", "config"), "replicas",
        "routed load with headroom within replica capacity at the p99 SLO", row="Σ_u f(1+headroom)/cap_u ≤ n",
        phrase="replica's worth of spare capacity on {key}"),
    FamilyFacts(
        "inventory", "formulation", INFRASTRUCTURE, ("region", "accelerator"), "GPUs",
        "GPUs held by training, serving and evaluators within the region's stock (on-demand: reserved GPUs in use "
        "come first, spot apart)", row="Σ GPUs - reserved ≤ stock",
        phrase="{accelerator} GPU in stock in {region}", shared=True,
        setting=Setting("regions.{region}.gpus.{accelerator}.count", "the {accelerator} count in {region}", "",
                        integer=True)),
    FamilyFacts(
        "spot_stock", "formulation", INFRASTRUCTURE, ("region", "accelerator"), "GPUs",
        "GPUs held on spot terms within the region's spot stock", row="Σ spot GPUs ≤ spot count (`spot` blocks only)",
        phrase="{accelerator} spot GPU in {region}", shared=True,
        setting=Setting("regions.{region}.gpus.{accelerator}.spot.count", "the {accelerator} spot count in "
                        "{region}", "", integer=True)),
    FamilyFacts(
        "reserved_stock", "formulation", INFRASTRUCTURE, ("region", "accelerator"), "GPUs",
        "reserved GPUs in use within the reserved count (paid over the horizon whether used or not)",
        row="reserved ≤ reserved count (`reserved` blocks only)", phrase="{accelerator} reserved GPU in {region}",
        setting=Setting("regions.{region}.gpus.{accelerator}.reserved.count", "the {accelerator} reserved count "
                        "in {region}", "", integer=True)),
    FamilyFacts(
        "reserved_use", "formulation", INFRASTRUCTURE, ("region", "accelerator"), "GPUs",
        "reserved GPUs in use are GPUs the plan holds on-demand there (billed hours), so they replace on-demand ones "
        "first", row="reserved - Σ GPUs·billed share ≤ 0 (`reserved` blocks only)",
        phrase="{accelerator} GPU held on-demand in {region}", shared=True),
    FamilyFacts(
        "power_cap", "formulation", INFRASTRUCTURE, ("region",), "MW",
        "facility power (GPUs x TDP x PUE) within the region's cap", row="Σ GPUs·TDP·PUE ≤ cap",
        phrase="MW of power cap in {region}", shared=True,
        setting=Setting("regions.{region}.power_cap_mw", "power_cap_mw of {region}", "MW")),
    FamilyFacts(
        "storage_bw", "formulation", INFRASTRUCTURE, ("region",), "GB/s",
        "checkpoint writes and data loading within the region's storage bandwidth",
        row="Σ checkpoint + data GB/s ≤ storage", phrase="GB/s of storage bandwidth in {region}", shared=True,
        setting=Setting("regions.{region}.storage_gb_s", "storage_gb_s of {region}", "GB/s")),
    FamilyFacts(
        "link_bw", "formulation", COMMUNICATION, ("link",), "GB/s",
        "datasets staged over the link within the staging window fit its bandwidth",
        row="Σ dataset GB / staging window ≤ link GB/s", phrase="GB/s of bandwidth on link {link}", shared=True),
    FamilyFacts(
        "carbon_budget", "formulation", SUSTAINABILITY, ("fleet",), "t CO2e",
        "operational, embodied and job-move emissions over the horizon within the budget",
        row="Σ operational + embodied + job-move t ≤ budget", phrase="t CO2e of carbon budget", shared=True,
        setting=Setting("policy.carbon_budget_t", "carbon_budget_t", "t")),
    # ------------------------------------------------------------ formulation (formulation/monitoring.py)
    FamilyFacts(
        "monitoring_traffic", "formulation", RESPONSIBILITY, ("service", "population", "region"), "requests/s",
        "a population is served in a region only where its traffic is monitored there", row="Σ f ≤ D·monitored",
        phrase="request/s of traffic allowed unmonitored on {key}"),
    FamilyFacts(
        "monitoring_samples", "formulation", RESPONSIBILITY, ("service", "population", "region", "group"),
        "samples per window",
        "each protected group's traffic in the region supplies the samples to detect the gap",
        row="share·window·Σ f ≥ n_group·monitored", phrase="sample per window not supplied on {key}"),
    FamilyFacts(
        "monitoring_pipeline", "formulation", RESPONSIBILITY, ("service", "population", "region"), "pipelines",
        "monitored traffic in a region needs a pipeline there", row="monitored ≤ pipeline",
        phrase="pipeline's worth of slack on {key}"),
    FamilyFacts(
        "monitoring_coverage", "formulation", RESPONSIBILITY, ("service", "region"), "evaluator GPUs",
        "evaluator GPUs in the region cover every monitored group's samples each window",
        row="Σ evaluator need·monitored ≤ evaluators", phrase="evaluator GPU's worth of samples on {key}"),
    # ------------------------------------------------------------ formulation (formulation/change.py)
    FamilyFacts(
        "changed_gpus", "formulation", DEPLOYMENT, ("workload", "region", "accelerator"), "GPUs",
        "GPUs above and below the deployed plan's (`current`), per workload, region and accelerator",
        row="GPUs - more + fewer = deployed GPUs", phrase="GPU deployed for {workload} in {region}"),
    FamilyFacts(
        "change_cap", "formulation", DEPLOYMENT, ("fleet",), "GPUs",
        "at most policy.max_changed_gpus GPUs change assignment against the deployed plan",
        row="Σ changed ≤ max_changed_gpus", phrase="GPU more allowed to change", shared=True,
        setting=Setting("policy.max_changed_gpus", "max_changed_gpus", "", integer=True)),
    FamilyFacts(
        "move_deadline", "formulation", DISTRIBUTION, ("job",), "hours",
        "a deployed job that moves or changes layout still finishes before its deadline, checkpoint transfer "
        "and restart included", row="Σ_c (wall_h + move_h)·x ≤ deadline over the moving candidates",
        phrase="hour of deadline for {job} after a move",
        setting=Setting("training.{job}.deadline_hours", "the deadline of {job}", "h", verb="extend")),
    # ------------------------------------------------------------ screening (candidates/)
    FamilyFacts(
        "slo", "screening", DEPLOYMENT, ("service", "population"), "ms",
        "some region serves the population within the service's p99 SLO (RTT + service time + queueing)",
        setting=Setting("serving.{service}.slo_p99_ms", "slo_p99_ms of {service}", "ms")),
    FamilyFacts(
        "residency", "screening", RESPONSIBILITY, ("population",), "regions",
        "the population is served only in its allowed jurisdictions"),
    FamilyFacts(
        "memory", "screening", INFRASTRUCTURE, ("job",), "GB per GPU",
        "training state and serving batches fit in HBM"),
    FamilyFacts(
        "route", "screening", DEPLOYMENT, ("service", "population"), "requests/s",
        "routes meet residency, an RTT and the p99 SLO"),
    # ------------------------------------------------------------ verify only (verify/)
    FamilyFacts(
        "route_needs_replica", "verify", DEPLOYMENT, ("service", "region", "accelerator", "config", "population"),
        "requests/s", "a route carries traffic only where a replica of its option runs"),
    FamilyFacts(
        "config", "verify", DISTRIBUTION, ("decision",), "decisions",
        "each decision names known jobs, regions and accelerators with legal parallelism"),
    FamilyFacts(
        "change", "verify", DEPLOYMENT, ("figure",), "GPUs or USD",
        "the changed GPUs, moves and change cost the plan states are the ones its decisions and `current` give"),
    FamilyFacts(
        "reported", "verify", RESPONSIBILITY, ("figure",), "units of the figure",
        "every figure the plan states (times, MW, t, USD, totals, objective) is the one the physics gives"),
)


def facts(name: str) -> FamilyFacts:
    """The facts of family `name` (KeyError names the known families)."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise KeyError(f"no facts declared for family '{name}' (fleetopt/facts.py); known: "
                       f"{', '.join(FAMILIES)}") from None


def add_family(form, name: str, keys, rows, cols, vals, **bounds):
    """form.add_rows (formulation/model.py) with the family's units, meaning and sharing from its facts."""
    f = facts(name)
    return form.add_rows(name, keys, rows, cols, vals, units=f.units, meaning=f.meaning, shared=f.shared, **bounds)


def of_stage(stage: Stage) -> list[FamilyFacts]:
    return [f for f in FAMILIES.values() if f.stage == stage]


def markdown_table() -> str:
    """The README's formulation table: one line per formulation family, in declaration order."""
    lines = ["| family | row | meaning | layer | loosened by |", "|---|---|---|---|---|"]
    for f in of_stage("formulation"):
        setting = f"{f.setting.verb} `{f.setting.path}`" if f.setting else "-"
        lines.append(f"| `{f.name}[{','.join(f.key)}]` | {f.row} | {f.meaning} | {f.layer} | {setting} |")
    return "\n".join(lines)
