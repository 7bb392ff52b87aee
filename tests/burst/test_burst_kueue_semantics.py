"""Hand-worked admission and preemption scenarios, each derived from Kueue's documented rules.

Rules used (kueue.sigs.k8s.io, "Cluster Queue" and "Preemption" concepts):
R1 a ClusterQueue may use its nominal quota plus up to ``borrowingLimit`` more, borrowed from
   unused quota of the cohort; R2 a queue lends at most ``lendingLimit`` of its nominal quota;
R3 ``reclaimWithinCohort: Any`` lets a queue that stays within its nominal quota preempt
   workloads of *borrowing* queues, whatever their priority; R4 ``withinClusterQueue:
   LowerPriority`` preempts lower-priority workloads of the same queue; R5 with
   ``borrowWithinCohort: LowerPriority``, a workload that must borrow may preempt
   lower-priority workloads (at or below ``maxPriorityThreshold``) of borrowing queues;
R6 victims: other queues first, lower priority first, most recently admitted first, as few as
   possible; R7 a queue orders its pending workloads by priority, then submission time
   (BestEffortFIFO); an evicted workload requeues at its eviction time.
"""

from __future__ import annotations

from burst_helpers import small_plan

from riskgrid.burst.quota import Admitted
from riskgrid.burst.simulate import Job, Settings, Simulation, cohort_for

PRIO = {"high": 1000, "mid": 500, "low": 100}
SETTINGS = Settings(
    provisioning=(90.0, 90.0),
    spot_rate_per_node_second=0.0,
    notice_seconds=120.0,
    consolidate_after={"onprem": 0.0, "spot": 60.0},
    task_seconds=20.0,
    seed=1,
)


def run(plan, specs, *, burst=False):
    """specs: (desk, priority, arrival, cores, core_seconds) → the finished job states."""
    jobs = [
        Job(i, d, f"{d}/{p}", PRIO[p], float(t), c, float(w), None)
        for i, (d, p, t, c, w) in enumerate(specs)
    ]
    sim = Simulation(plan, jobs, SETTINGS, burst=burst, desk_deadlines={})
    out = sim.run()
    return {s.job.key: s for s in out.jobs}, out


def test_borrowing_stops_at_the_borrowing_limit() -> None:
    # R1: a may use 4 + 2 = 6 cores although b's 4 idle cores could lend more.
    cohort, _ = cohort_for(small_plan({"a": (4, 2, None), "b": (4, None, None)}), burst=False)
    admitted = 0
    while cohort.fits("a", "onprem", 2):
        cohort.admit(Admitted(admitted, "a", "onprem", 2, 100, 0.0))
        admitted += 1
    assert admitted == (4 + 2) // 2
    assert cohort.usage["a"]["onprem"] == 6 and cohort.borrows("a", "onprem")


def test_borrowing_stops_at_the_other_queues_lending_limit() -> None:
    # R2: b lends only 1 of its 4 cores, so unlimited a reaches 4 + 1.
    cohort, _ = cohort_for(small_plan({"a": (4, None, None), "b": (4, None, 1)}), burst=False)
    n = 0
    while cohort.fits("a", "onprem", 1):
        cohort.admit(Admitted(n, "a", "onprem", 1, 100, 0.0))
        n += 1
    assert n == 5
    # b keeps its 3 guaranteed cores even while a borrows.
    assert cohort.fits("b", "onprem", 3) and not cohort.fits("b", "onprem", 4)


def test_reclaiming_nominal_quota_preempts_the_newest_borrowed_workload() -> None:
    plan = small_plan({"a": (4, None, None), "b": (4, None, None)})
    # a fills the cohort (4 own + 4 borrowed) with four 2-core jobs admitted at t=0..3.
    specs = [("a", "low", t, 2, 2000) for t in range(4)] + [("b", "low", 10, 2, 200)]
    jobs, out = run(plan, specs)
    b = jobs[4]
    # R3 + R6: b is within nominal, a borrows → a's most recently admitted job (t=3) goes.
    assert b.first_admitted == 10
    assert [jobs[k].preemptions for k in range(4)] == [0, 0, 0, 1]
    assert out.preemptions == 1
    # b's job ends at 10 + 200/2 = 110, when the victim is readmitted, having done 7 s × 2
    # cores and lost its in-flight tasks (half of min(task, 7 s) per core).
    victim = jobs[3]
    assert b.finished == 110
    done, lost = 2 * 7, 2 * min(SETTINGS.task_seconds, 7) / 2
    assert victim.finished == 110 + (2000 - done + lost) / 2


def test_without_reclaim_the_owner_waits_for_its_quota() -> None:
    plan = small_plan(
        {"a": (4, None, None), "b": (4, None, None)},
        preemption={"reclaimWithinCohort": "Never"},
    )
    specs = [("a", "low", t, 2, 2000) for t in range(4)] + [("b", "low", 10, 2, 200)]
    jobs, out = run(plan, specs)
    assert out.preemptions == 0
    assert jobs[4].first_admitted == 1000  # when a's first job (t=0, 1000 s) frees 2 cores


def test_higher_priority_preempts_the_lowest_newest_in_its_own_queue() -> None:
    plan = small_plan({"a": (4, 0, None), "b": (4, None, None)})
    # a holds its whole nominal quota with two low jobs; it may not borrow (limit 0).
    specs = [("a", "low", 0, 2, 2000), ("a", "low", 1, 2, 2000), ("a", "high", 5, 2, 200)]
    jobs, _ = run(plan, specs)
    # R4 + R6: the newer low job (t=1) is the victim, not the older one.
    assert (jobs[0].preemptions, jobs[1].preemptions) == (0, 1)
    assert jobs[2].first_admitted == 5


def test_pending_workloads_are_admitted_by_priority_then_time() -> None:
    plan = small_plan(
        {"a": (2, 0, None), "b": (2, None, None)},
        preemption={"withinClusterQueue": "Never"},
    )
    specs = [
        ("a", "low", 0, 2, 200),  # runs 0..100
        ("a", "low", 1, 2, 200),
        ("a", "high", 2, 2, 200),
        ("a", "mid", 3, 2, 200),
    ]
    jobs, out = run(plan, specs)
    assert out.preemptions == 0
    # R7: high (arrived 2nd) first, then mid, then the older low job.
    assert [jobs[k].first_admitted for k in (2, 3, 1)] == [100, 200, 300]


def _three_queues(**preemption):
    return small_plan(
        {"a": (4, None, None), "b": (4, None, None), "c": (4, None, None)},
        preemption=preemption,
    )


THREE = [
    ("c", "low", 0, 2, 4000),
    ("c", "low", 1, 2, 4000),
    ("c", "low", 2, 2, 4000),  # c borrows 2 of the cohort's 12 cores
    ("b", "low", 3, 2, 4000),
    ("a", "mid", 4, 2, 4000),
    ("a", "mid", 5, 2, 4000),  # a at its nominal 4; the cohort is full
    ("a", "high", 10, 2, 400),  # a must borrow to admit this
]


def test_borrowing_workload_preempts_lower_priority_borrowers_below_the_threshold() -> None:
    jobs, out = run(
        _three_queues(borrowWithinCohort={"policy": "LowerPriority", "maxPriorityThreshold": 500}),
        THREE,
    )
    # R5 + R6: only c borrows; its newest job (t=2) is preempted; b (within nominal) is not.
    assert [jobs[k].preemptions for k in range(6)] == [0, 0, 1, 0, 0, 0]
    assert jobs[6].first_admitted == 10
    assert out.preemptions == 1


def test_no_borrowing_preemption_above_the_threshold_or_when_disabled() -> None:
    # withinClusterQueue: Never, or R4 would (rightly) preempt a's own mid-priority jobs.
    for pre in (
        {"borrowWithinCohort": {"policy": "LowerPriority", "maxPriorityThreshold": 50}},
        {"borrowWithinCohort": {"policy": "Never"}},
    ):
        pre["withinClusterQueue"] = "Never"
        jobs, out = run(_three_queues(**pre), THREE)
        assert out.preemptions == 0, pre
        # It waits for the first job to end: c's, admitted at t=0, 4000 core-s on 2 cores.
        assert jobs[6].first_admitted == 0 + 4000 / 2, pre


def test_fair_sharing_admits_the_queue_with_the_lower_weighted_share_first() -> None:
    desks = {"a": (2, None, None), "b": (2, None, None), "idle": (9, None, None)}
    # a borrows 3 (one 5-core job), b borrows 4 and holds a short 2-core job that ends at 100.
    specs = [
        ("a", "low", 0, 5, 5 * 5000),
        ("b", "low", 0, 6, 6 * 5000),
        ("b", "low", 0, 2, 200),
        ("a", "low", 1, 2, 20),  # a's head: older
        ("b", "low", 2, 2, 20),
    ]
    # Share after admitting the head = borrowed × 1000 / lendable (13) / weight:
    # a: (5 + 2 − 2) / 13 / 1 = 385; b: (6 + 2 − 2) / 13 / w_b → 462 for w_b = 1, 231 for 2.
    even, _ = run(small_plan(desks), specs)
    assert (even[3].first_admitted, even[4].first_admitted) == (100, 110)
    weighted, _ = run(small_plan(desks, weights={"b": 2}), specs)
    assert (weighted[4].first_admitted, weighted[3].first_admitted) == (100, 110)
    cohort, _ = cohort_for(small_plan(desks, weights={"b": 2}), burst=False)
    cohort.admit(Admitted(0, "b", "onprem", 6, 100, 0.0))
    assert cohort.share("b", 2, "onprem") == 6 * 1000 / 13 / 2


def test_cloud_flavor_waits_for_nodes_and_costs_node_time() -> None:
    plan = small_plan({"a": (4, 0, None)}, spot_borrow=64)
    # 4 on-prem cores are busy; the 12-core job goes to spot: 2 nodes of 8 cores.
    specs = [("a", "low", 0, 4, 40000), ("a", "low", 1, 12, 12 * 600)]
    jobs, out = run(plan, specs, burst=True)
    spot = jobs[1]
    assert spot.first_admitted == 1 and spot.finished == 1 + 90 + 600
    assert out.peak_cloud_nodes == {"spot": 2}
    # Billed from launch to consolidation (60 s after emptying): 2 nodes × 8 cores.
    assert abs(out.cost_by_flavor["spot"] - 2 * 8 * 0.36 * (90 + 600 + 60) / 3600) < 1e-9
