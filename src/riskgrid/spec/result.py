"""``Result``: what one risk run produced (``result.json``; ``riskgrid schema Result``).

Sign conventions follow :mod:`riskgrid.risk.measures`: P&L positive = gain; VaR and ES are
positive numbers when they are losses. Confidence levels are keys written as Python writes the
float (``"0.99"``, ``"0.975"``). All amounts are in the market data's base currency.

Only a ``completed`` result carries measures: a ``failed`` or ``cancelled`` run reports why and
its task counts, never a partial answer.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from riskgrid.spec.base import API_VERSION, Finite, Strict

Status = Literal["completed", "failed", "cancelled"]


class Measures(Strict):
    """PV, VaR and ES of the portfolio or of one group."""

    pv: Finite = Field(description="Present value (base currency).")
    var: dict[str, Finite] = Field(
        description='Historical VaR by confidence level, e.g. {"0.99": 1234.5}; positive = loss.'
    )
    es: dict[str, Finite] = Field(
        description='Expected Shortfall by confidence level, e.g. {"0.975": 1500.0}.'
    )
    positions: int = Field(ge=0, description="Number of positions in this portfolio or group.")


class Contributor(Strict):
    """One position's share of the portfolio VaR (Euler allocation)."""

    id: str = Field(description="Position id.")
    component_var: Finite = Field(
        alias="componentVar",
        description="The position's loss in the portfolio's VaR scenario (sums to the VaR).",
    )
    share: Finite = Field(description="componentVar / portfolio VaR (0 when the VaR is 0).")
    component_es: Finite | None = Field(
        None,
        alias="componentEs",
        description="Tail-weighted average loss of the position (sums to the ES), at the "
        "first ES confidence level.",
    )
    groups: dict[str, str] = Field(
        default_factory=dict, description="The position's labels (desk, book, underlying…)."
    )


class TopContributors(Strict):
    confidence: str = Field(description="VaR confidence level the allocation uses.")
    positions: list[Contributor] = Field(description="Largest contributors first.")


class ThetaReport(Strict):
    """Theta from rolling the valuation date (``spec.revaluation.horizonDays``)."""

    horizon_days: int = Field(alias="horizonDays", ge=1, description="Calendar days rolled.")
    roll: str = Field(
        description="How the market is rolled: `constant-in-time-to-maturity` (spots kept; "
        "curves and vol surfaces constant in time to maturity; see docs/risk.md)."
    )
    total: Finite = Field(description="Portfolio theta over the horizon (base currency).")
    positions: dict[str, Finite] = Field(
        description="Position id → theta = V(valuation date + horizon) − V(today), base "
        "currency, positive = gain. Group sums are under `greeks` (`theta`)."
    )


class TaskCounts(Strict):
    total: int = Field(ge=0, description="Tasks in the plan.")
    completed: int = Field(ge=0, description="Tasks finished (including checkpointed ones).")
    retried: int = Field(ge=0, description="Distinct tasks that needed more than one attempt.")
    failed: int = Field(ge=0, description="Tasks that ran out of retries (0 when completed).")
    attempts: int = Field(ge=0, description="Task executions started, retries included.")
    from_checkpoint: int = Field(
        0, alias="fromCheckpoint", ge=0, description="Tasks loaded from a checkpoint."
    )
    worker_deaths: int = Field(
        0, alias="workerDeaths", ge=0, description="Worker processes lost during the run."
    )
    timed_out: int = Field(
        0,
        alias="timedOut",
        ge=0,
        description="Distinct tasks stopped at least once for running past their task timeout.",
    )
    speculative: int = Field(
        0, ge=0, description="Duplicate attempts launched for straggling tasks."
    )
    speculative_wins: int = Field(
        0, alias="speculativeWins", ge=0, description="Duplicates that finished first."
    )
    nodes: dict[str, int] = Field(
        default_factory=dict,
        description="Completed tasks per node (Ray node id; `local` for the local pool).",
    )


class PlanInfo(Strict):
    block_rows: int = Field(alias="blockRows", ge=1, description="Positions per P&L task.")
    block_cols: int = Field(alias="blockCols", ge=1, description="Scenarios per P&L task.")
    pos_block_rows: int = Field(
        alias="posBlockRows", ge=1, description="Positions per PV/Greeks task."
    )
    target_task_seconds: Finite = Field(alias="targetTaskSeconds", gt=0)
    cost_per_element_seconds: Finite = Field(
        alias="costPerElementSeconds", ge=0, description="Cost model used for sizing."
    )
    calibrated: bool = Field(description="Whether the cost model was measured on this run.")
    in_process: bool = Field(
        False,
        alias="inProcess",
        description="The job was estimated cheaper than starting a worker and ran in the driver "
        "process (local engine only).",
    )


class Timings(Strict):
    load_seconds: Finite = Field(0.0, alias="loadSeconds", ge=0)
    plan_seconds: Finite = Field(0.0, alias="planSeconds", ge=0, description="Incl. calibration.")
    run_seconds: Finite = Field(0.0, alias="runSeconds", ge=0, description="Engine, wall clock.")
    aggregate_seconds: Finite = Field(0.0, alias="aggregateSeconds", ge=0)
    total_seconds: Finite = Field(0.0, alias="totalSeconds", ge=0)


class MonteCarloInfo(Strict):
    """How Monte Carlo positions were priced and how precise their PVs are."""

    positions: int = Field(ge=0, description="Positions priced by Monte Carlo.")
    paths: int = Field(ge=1)
    seed: int = Field(ge=0)
    sampling: str
    antithetic: bool
    control_variate: bool = Field(alias="controlVariate")
    pv_standard_error: Finite = Field(
        alias="pvStandardError",
        description="Standard error of the portfolio PV from MC noise (positions use "
        "independent streams: the root of the sum of squared position SEs). Per-position SEs "
        "are in `positions.parquet`.",
    )
    max_position_standard_error: Finite = Field(alias="maxPositionStandardError")


class Result(Strict):
    """The outcome of one RiskJob run."""

    api_version: Literal["riskgrid.dev/v1alpha1"] = Field(API_VERSION, alias="apiVersion")
    kind: Literal["Result"] = "Result"
    job: str = Field(description="metadata.name of the RiskJob.")
    valuation_date: str = Field(alias="valuationDate", description="ISO date.")
    base_currency: str | None = Field(None, alias="baseCurrency")
    status: Status
    message: str | None = Field(None, description="Why a run failed or was cancelled.")
    engine: str = Field(description="`local` or `ray`.")
    workers: int = Field(ge=1, description="Worker processes (local) or CPUs (Ray) used.")
    ray_address: str | None = Field(None, alias="rayAddress")
    positions: int = Field(ge=0)
    scenarios: int = Field(ge=0)
    convention: Literal["quantile", "lower-tail", "linear"] = Field(
        "quantile",
        description="VaR/ES convention every VaR, ES and component figure uses "
        "(`spec.measures.convention`; see docs/risk.md).",
    )
    portfolio: Measures | None = Field(None, description="Whole-portfolio measures.")
    groups: dict[str, dict[str, Measures]] = Field(
        default_factory=dict,
        description="Grouping key (desk, book, underlying…) → group label → measures.",
    )
    top_contributors: TopContributors | None = Field(None, alias="topContributors")
    greeks: dict[str, dict[str, dict[str, Finite]]] = Field(
        default_factory=dict,
        description="Aggregated Greeks: `total` → {`total` → greeks}, and each grouping key → "
        "group label → greeks. Additive Greeks (delta_cash, gamma_cash, vega, rho; base "
        "currency) everywhere; delta and gamma (underlying units) only by underlying.",
    )
    theta: ThetaReport | None = Field(
        None, description="Theta per position, when the job sets a theta horizon."
    )
    tasks: TaskCounts
    plan: PlanInfo | None = None
    timings: Timings = Field(default_factory=Timings)
    inputs: dict[str, str] = Field(
        default_factory=dict,
        description="sha256 of each input (job spec, portfolio, market, scenarios) and of "
        "their combination (`fingerprint`), for reproducibility.",
    )
    outputs: dict[str, str] = Field(
        default_factory=dict, description="Files of the results directory, by role."
    )
    monte_carlo: MonteCarloInfo | None = Field(
        None, alias="monteCarlo", description="Present when any position is priced by MC."
    )
    riskgrid_version: str = Field(alias="riskgridVersion")

    @model_validator(mode="after")
    def _complete_means_answer(self) -> Result:
        if self.status == "completed" and self.portfolio is None:
            raise ValueError("a completed result must carry portfolio measures")
        if self.status != "completed" and self.portfolio is not None:
            raise ValueError("only a completed result may carry measures")
        return self
