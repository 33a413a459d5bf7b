"""The figures of one pool's answers (end to end, the breakdown, cores, memory) and the summary
against the targets."""

from __future__ import annotations

import statistics

from bench.support.machine import cores_text
from bench.support.report import ms, pct, stats_line

from .params import CELL_OUTPUT, DISTURBED_CORES, TARGET_MS, TARGET_RATIO


def to_cell(samples):
    return [s["events"]["cell"][0] - s["t0"] for s in samples if "cell" in s["events"]]


def to_finished(samples):
    return [s["events"].get("verified", s["events"].get("failed"))[0] - s["t0"] for s in samples]


def quiet_samples(result: dict) -> tuple[list[dict], str]:
    """The undisturbed answers when there are enough of them (10), else all of them."""
    quiet = [s for s in result["samples"] if not s["disturbed"]]
    if len(quiet) >= 10:
        return quiet, f"the {len(quiet)} undisturbed answers"
    return result["samples"], f"all {len(result['samples'])} answers (too few undisturbed)"


def report_pool(result: dict, gap: float) -> dict:
    everything = result["samples"]
    samples, which = quiet_samples(result)
    disturbed = sum(s["disturbed"] for s in everything)
    print(f"-- {result['label']}: {len(everything)} answers, one after the other, {gap:g} s apart; "
          f"verified with output {CELL_OUTPUT!r}: {result['ok']}/{len(everything)}; disturbed by other "
          f"processes (> {DISTURBED_CORES:g} cores in the answer's window): {disturbed}")
    for text in result["bad"][:5]:
        print(f"   NOT VERIFIED: {text}")
    print(stats_line("all answers: queued -> cell result committed", to_cell(everything)))
    print(stats_line("all answers: queued -> run finished committed", to_finished(everything)))
    print(f"  {which}:")
    print(stats_line("queued -> cell result committed (RunCell row)  [headline]", to_cell(samples)))
    print(stats_line("queued -> run finished committed (status verified)", to_finished(samples)))

    def seg(a, b):
        values = []
        for s in samples:
            points = {"t0": s["t0"], "returned": s["returned"], "before": s.get("before"),
                      "after": s.get("after")}
            for name, (received, written) in s["events"].items():
                points[name] = received
                points[name + "@write"] = written
            points["finished"] = points.get("verified", points.get("failed"))
            if points.get(a) is not None and points.get(b) is not None:
                values.append(points[b] - points[a])
        return values

    print(f"  breakdown, {which} (median of each segment; medians do not add up exactly):")
    print(stats_line("run_request until publish (key, INSERT, COMMIT)", seg("t0", "before"), 56))
    print(stats_line("  publish to Redis (on_commit, apply_async)", seg("before", "after"), 56))
    print(stats_line("  Run row committed (NOTIFY received) after t0", seg("t0", "queued"), 56))
    print(stats_line("publish -> run_start committed (status running)", seg("after", "running"), 56))
    print(stats_line("running -> RunCell INSERT (fork server answer + SELECT)",
                     seg("running", "cell@write"), 56))
    print(stats_line("RunCell INSERT -> its COMMIT received", seg("cell@write", "cell"), 56))
    print(stats_line("cell committed -> run finished committed", seg("cell", "finished"), 56))
    print(stats_line("cell's own execution time (RunCell.duration_s)",
               [result["durations"][s["run"]] for s in samples if s["run"] in result["durations"]], 56))
    print(f"  cores during the runs: {cores_text(result['cores'])}")
    total_rss = sum(m["rss"] for m in result["memory"])
    total_pss = sum(m["pss"] for m in result["memory"])
    print(f"  worker resident memory after the runs: RSS {total_rss / 2**20:.0f} MiB in all "
          f"(PSS {total_pss / 2**20:.0f} MiB: pages shared between the forked processes counted once)")
    for m in result["memory"]:
        print(f"    pid {m['pid']:>7}  RSS {m['rss'] / 2**20:6.0f} MiB  PSS {m['pss'] / 2**20:6.0f} MiB"
              f"  {m['cmd']}")
    cell, finished = to_cell(samples), to_finished(samples)
    return {"median": statistics.median(cell), "p90": pct(cell, 0.9), "which": which,
            "finished_median": statistics.median(finished), "finished_p90": pct(finished, 0.9),
            "all_median": statistics.median(to_cell(everything)), "all_p90": pct(to_cell(everything), 0.9),
            "rss": total_rss, "pss": total_pss}


def report_summary(summaries: dict[str, dict], nb: dict, fresh: list[float]) -> None:
    """Per pool, the end-to-end figures against the targets and against nbclient and python -c."""
    print("\n== summary")
    nb_median = statistics.median(nb["executed"])
    py_median = statistics.median(fresh)
    for pool, s in summaries.items():
        verdict_ms = "meets" if s["median"] * 1000 <= TARGET_MS else "MISSES"
        ratio = nb_median / s["median"]
        verdict_ratio = "meets" if ratio >= TARGET_RATIO else "MISSES"
        print(f"  --pool {pool:<8} end to end (to the cell's result committed): "
              f"median {ms(s['median'])} ms, p90 {ms(s['p90'])} ms  "
              f"[{verdict_ms} the {TARGET_MS:g} ms target]")
        print(f"  {'':<16} to the run's final status committed:       "
              f"median {ms(s['finished_median'])} ms, p90 {ms(s['finished_p90'])} ms")
        print(f"  {'':<16} nbclient / end to end: {ratio:6.0f}x [{verdict_ratio} {TARGET_RATIO:g}x]   "
              f"python -c / end to end: {py_median / s['median']:6.0f}x   "
              f"(to final status: {nb_median / s['finished_median']:.0f}x and "
              f"{py_median / s['finished_median']:.0f}x; nbclient execute() incl. shutdown: "
              f"{statistics.median(nb['total']) / s['median']:.0f}x)")
        print(f"  {'':<16} ({s['which']}; all answers: median {ms(s['all_median'])} ms, "
              f"p90 {ms(s['all_p90'])} ms)")
        print(f"  {'':<16} worker RSS {s['rss'] / 2**20:.0f} MiB (PSS {s['pss'] / 2**20:.0f} MiB)")
